import math

import torch

from plateocr.alphabet import Tokenizer, is_valid_plate
from plateocr.reading.decoding import decode_constrained, decode_greedy, sequence_confidence

TOK = Tokenizer()


def frames_for(frame_chars, confidence=0.9, T=24):
    """Log-probs whose argmax at each frame is the given character ('' = blank)."""
    C = TOK.num_classes
    lp = torch.full((T, 1, C), math.log((1 - confidence) / (C - 1)))
    for t in range(T):
        c = frame_chars[t] if t < len(frame_chars) else ""
        lp[t, 0, TOK.encode(c)[0] if c else 0] = math.log(confidence)
    return lp


def test_greedy_collapses_repeats_and_blanks():
    lp = frames_for(["皖", "皖", "", "A", "1", "", "1", "2", "3", "4"])
    assert decode_greedy(lp, TOK)[0][0] == "皖A11234"


def test_confidence_is_the_probability_of_the_string():
    lp = frames_for(["皖", "", "A", "", "1", "", "2", "", "3", "", "4", "", "5"], confidence=0.99)
    ((plate, conf),) = decode_greedy(lp, TOK)
    assert plate == "皖A12345" and 0.5 < conf <= 1.0
    lower = frames_for(["皖", "", "A", "", "1", "", "2", "", "3", "", "4", "", "5"], confidence=0.6)
    assert decode_greedy(lower, TOK)[0][1] < conf
    assert sequence_confidence(lp, [TOK.encode("皖A12346")])[0] < 1e-3


def test_constrained_fixes_what_the_grammar_forbids():
    # Greedy reads an I in the second position, which plates never use; the runner-up is L.
    chars = ["皖", "", "I", "", "1", "", "2", "", "3", "", "4", "", "5"]
    lp = frames_for(chars, confidence=0.6)
    lp[2, 0, TOK.encode("L")[0]] = math.log(0.35)
    assert decode_greedy(lp, TOK)[0][0] == "皖I12345"
    plate, conf = decode_constrained(lp, TOK)[0]
    assert plate == "皖L12345" and conf > 0


def test_constrained_adds_a_missing_province_when_the_model_hesitates():
    chars = ["", "", "A", "", "1", "", "2", "", "3", "", "4", "", "5"]
    lp = frames_for(chars, confidence=0.7)
    lp[0, 0, TOK.encode("苏")[0]] = math.log(0.25)
    assert decode_greedy(lp, TOK)[0][0] == "A12345"
    assert decode_constrained(lp, TOK)[0][0] == "苏A12345"


def test_valid_greedy_results_are_kept():
    lp = frames_for(["京", "", "A", "D", "", "1", "", "2", "3", "", "4", "5"])
    assert decode_constrained(lp, TOK)[0][0] == decode_greedy(lp, TOK)[0][0] == "京AD12345"


def test_an_invalid_greedy_read_becomes_the_most_probable_valid_plate():
    # Greedy misses a digit (6 characters); the grammar wants 5 after the letter. Frame 7's
    # runner-up is a blank, which splits the run of 1s into two characters.
    chars = ["皖", "", "A", "", "1", "", "1", "1", "1", "", "6", "", "6"]
    lp = frames_for(chars, confidence=0.6)
    lp[7, 0, 0] = math.log(0.35)
    assert decode_greedy(lp, TOK)[0][0] == "皖A1166"
    plate, conf = decode_constrained(lp, TOK)[0]
    assert plate == "皖A11166" and is_valid_plate(plate)
    # It is the best valid string: no other valid plate scores higher under the same log-probs.
    rivals = ["皖A11666", "皖A11116", "皖A16166"]
    assert all(sequence_confidence(lp, [TOK.encode(r)])[0] < conf for r in rivals)


def test_doubled_characters_need_a_blank_between_them():
    # Two frames of 6 with no blank between are one 6 in CTC, whatever the grammar wants.
    chars = ["皖", "", "A", "", "1", "", "2", "", "3", "", "6", "6"]
    lp = frames_for(chars, confidence=0.9999, T=len(chars))
    plate, _ = decode_constrained(lp, TOK)[0]
    assert plate == "皖A1236" and not is_valid_plate(plate)  # so no valid plate: the greedy read
    lp[11, 0, 0] = math.log(0.3)  # a possible blank after the first 6 lets the second count
    lp = torch.cat([lp, frames_for(["6"], confidence=0.9999, T=1)])
    assert decode_constrained(lp, TOK)[0][0] == "皖A12366"


def test_no_valid_plate_returns_the_greedy_read_and_says_so():
    # Seven confident frames with three characters: no 7-character plate fits, even through
    # unlikely characters, which the search prunes.
    lp = frames_for(["粤", "", "A", "", "L", "", "6"], confidence=0.9999, T=7)
    plate, conf = decode_constrained(lp, TOK)[0]
    assert plate == decode_greedy(lp, TOK)[0][0] == "粤AL6"
    assert not is_valid_plate(plate) and conf > 0.9
