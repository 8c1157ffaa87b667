import math

import torch

from plateocr.alphabet import Tokenizer
from plateocr.decoding import decode_constrained, decode_greedy, sequence_confidence

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
    (plate, conf), = decode_greedy(lp, TOK)
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
