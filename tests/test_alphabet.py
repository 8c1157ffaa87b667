from plateocr.alphabet import (
    ALPHABET,
    BLANK,
    OOV,
    PAD,
    PLATE_TYPES,
    PROVINCES,
    Tokenizer,
    is_valid_plate,
    label_problem,
    plate_format,
    province_of,
)


def test_alphabet_is_the_canonical_one():
    assert len(PROVINCES) == 31 and len(set(PROVINCES)) == 31
    assert len(ALPHABET) == 31 + 7 + 10 + 26 == len(set(ALPHABET))
    assert ALPHABET.startswith("京津冀") and ALPHABET.endswith("XYZ")


def test_special_ids_match_the_original_notebook():
    tok = Tokenizer()
    assert (BLANK, OOV, PAD) == (0, 1, 2)
    assert tok.encode(ALPHABET[0]) == [3]
    assert tok.num_classes == 3 + len(ALPHABET)


def test_round_trip_every_character():
    tok = Tokenizer()
    assert tok.decode(tok.encode(ALPHABET)) == ALPHABET
    assert tok.decode(tok.encode("皖AD12345")) == "皖AD12345"


def test_unknown_characters_become_oov():
    tok = Tokenizer()
    assert tok.encode("皖a1") == [tok.encode("皖")[0], OOV, tok.encode("1")[0]]
    assert tok.decode([OOV, BLANK, PAD]) == "?"


def test_a_tokenizer_with_another_alphabet_uses_its_own_ids():
    tok = Tokenizer("AB")
    assert tok.encode("BA") == [4, 3] and tok.decode([4, 3]) == "BA"


def test_plate_grammar():
    assert plate_format("皖A12345") == "standard"
    assert plate_format("粤B1234学") == "special_suffix"
    assert plate_format("京AD12345") == "new_energy_small"
    assert plate_format("京A12345F") == "new_energy_large"
    for bad in ("皖I12345", "AA12345", "皖A1234", "皖A123456789", "皖A12O45", "皖112345"):
        assert not is_valid_plate(bad), bad
    assert province_of("皖A12345") == "皖" and province_of("A") == ""


def test_label_problems_are_explained():
    assert label_problem("皖A12345") is None
    assert "outside the alphabet" in label_problem("皖a12345")
    assert "length" in label_problem("皖A1")
    assert label_problem("") == "empty label"
    assert "yellow_double" in PLATE_TYPES
