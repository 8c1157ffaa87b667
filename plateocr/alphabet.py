"""The alphabet, the tokenizer and the plate grammar: the single owner of which strings are plates.

>>> tok = Tokenizer()
>>> tok.decode(tok.encode("皖A12345"))
'皖A12345'
>>> is_valid_plate("皖A12345"), is_valid_plate("皖I12345")
(True, False)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PROVINCES = "京津冀晋蒙辽吉黑沪苏浙皖闽赣鲁豫鄂湘粤桂琼渝川贵云藏陕甘青宁新"
# The characters that end special plates: police, learner, Hong Kong and Macau, trailer, embassy, consulate.
POLICE, LEARNER, CROSS_BORDER, TRAILER, DIPLOMATIC = "警", "学", "港澳", "挂", "使领"
SPECIALS = POLICE + LEARNER + CROSS_BORDER + TRAILER + DIPLOMATIC
DIGITS = "0123456789"
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
# Fixed order: changing it changes every token id, so checkpoints carry their own copy.
ALPHABET = PROVINCES + SPECIALS + DIGITS + LETTERS

# PAD is never a target nor decoded, yet keeps its id and its output class: every checkpoint's last
# layer (the shipped model's included) has num_classes = FIRST_CHAR_ID + len(alphabet) outputs, and
# dropping it would shift every character's id and leave those weights unreadable.
BLANK, OOV, PAD = 0, 1, 2
FIRST_CHAR_ID = 3

# I and O are never used on plates (they read as 1 and 0).
PLATE_LETTERS = LETTERS.replace("I", "").replace("O", "")
ALNUM = DIGITS + PLATE_LETTERS
ENERGY = "DF"

# Each format is a list of allowed-character sets, one per position. Together they are the grammar
# that constrained decoding searches and that the loaders validate labels with.
PLATE_FORMATS: dict[str, list[str]] = {
    "standard": [PROVINCES, PLATE_LETTERS] + [ALNUM] * 5,
    "special_suffix": [PROVINCES, PLATE_LETTERS] + [ALNUM] * 4 + [SPECIALS],
    "new_energy_small": [PROVINCES, PLATE_LETTERS, ENERGY] + [ALNUM] * 5,
    "new_energy_large": [PROVINCES, PLATE_LETTERS] + [DIGITS] * 5 + [ENERGY],
}
PLATE_LENGTHS = sorted({len(f) for f in PLATE_FORMATS.values()})

# Plate colours/layouts that the type head predicts; the order is the class id.
PLATE_TYPES = ("blue", "green", "yellow", "white", "black", "yellow_double")
# The formats each plate type is issued in (a yellow plate may end in a letter or digit, or 挂/学).
TYPE_FORMATS = {
    "blue": ("standard",),
    "green": ("new_energy_small", "new_energy_large"),
    "yellow": ("standard", "special_suffix"),
    "yellow_double": ("standard", "special_suffix"),
    "white": ("special_suffix",),
    "black": ("special_suffix",),
}
# The type a special last character fixes; a plain 7-character plate is taken to be blue.
SUFFIX_TYPES = {
    POLICE: "white",
    LEARNER: "yellow",
    TRAILER: "yellow",
    **dict.fromkeys(CROSS_BORDER + DIPLOMATIC, "black"),
}

_FORMAT_RES = {
    name: re.compile("".join(f"[{re.escape(s)}]" for s in sets) + r"\Z") for name, sets in PLATE_FORMATS.items()
}


def plate_format(plate: str) -> str | None:
    """Name of the first format that `plate` matches, or None.

    >>> plate_format("皖AD12345"), plate_format("粤Z1234港"), plate_format("AB")
    ('new_energy_small', 'special_suffix', None)
    """
    for name, regex in _FORMAT_RES.items():
        if regex.match(plate):
            return name
    return None


def infer_plate_type(plate: str) -> str:
    """The plate type a label implies when no type is given (CCPD's 7-character plates are blue).

    >>> infer_plate_type("皖AD12345"), infer_plate_type("粤Z1234港"), infer_plate_type("皖A12345")
    ('green', 'black', 'blue')
    """
    if len(plate) == len(PLATE_FORMATS["new_energy_small"]):
        return "green"
    return SUFFIX_TYPES.get(plate[-1:], "blue")


def is_valid_plate(plate: str) -> bool:
    """True when `plate` follows one of the Chinese plate formats."""
    return plate_format(plate) is not None


def province_of(plate: str) -> str:
    """The leading province character, or '' when the plate does not start with one."""
    return plate[0] if plate and plate[0] in PROVINCES else ""


def label_problem(label: str, alphabet: str = ALPHABET) -> str | None:
    """Why `label` cannot be trained on, or None when it can (used by every loader)."""
    if not label:
        return "empty label"
    unknown = sorted({c for c in label if c not in alphabet})
    if unknown:
        return f"characters outside the alphabet: {''.join(unknown)!r}"
    if not min(PLATE_LENGTHS) <= len(label) <= max(PLATE_LENGTHS):
        return f"length {len(label)} is not a plate length {PLATE_LENGTHS}"
    return None


@dataclass(frozen=True)
class Tokenizer:
    """Maps plates to token ids and back: BLANK=0, OOV=1, PAD=2 (never used, see above), characters from 3."""

    alphabet: str = ALPHABET

    @property
    def num_classes(self) -> int:
        return FIRST_CHAR_ID + len(self.alphabet)

    def _index(self) -> dict[str, int]:
        return {c: i + FIRST_CHAR_ID for i, c in enumerate(self.alphabet)}

    def encode(self, plate: str) -> list[int]:
        """Token ids; characters outside the alphabet become OOV.

        >>> Tokenizer().encode("京?")
        [3, 1]
        """
        index = self._index()
        return [index.get(c, OOV) for c in plate]

    def decode(self, ids) -> str:
        """Text of token ids, dropping BLANK/PAD and writing OOV as '?'."""
        out = []
        for i in ids:
            i = int(i)
            if i >= FIRST_CHAR_ID:
                out.append(self.alphabet[i - FIRST_CHAR_ID])
            elif i == OOV:
                out.append("?")
        return "".join(out)
