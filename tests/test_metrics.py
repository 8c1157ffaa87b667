from plateocr.metrics import CER_MODULE, cer, exact_accuracy, per_position_accuracy, province_accuracy, summarize


def test_cer_counts_each_chinese_character_once():
    assert abs(cer(["皖A12346"], ["皖A12345"]) - 1 / 7) < 1e-9
    assert abs(cer(["苏A12345"], ["皖A12345"]) - 1 / 7) < 1e-9
    assert cer(["皖A12345", "京AD12345"], ["皖A12345", "京AD12345"]) == 0.0


def test_cer_of_missing_and_extra_characters():
    assert abs(cer(["A12345"], ["皖A12345"]) - 1 / 7) < 1e-9
    assert abs(cer([""], ["皖A12345"]) - 1.0) < 1e-9
    assert abs(cer(["皖A123456"], ["皖A12345"]) - 1 / 7) < 1e-9
    assert cer([], []) == 0.0


def test_plate_level_metrics():
    preds, refs = ["皖A12345", "苏A12345", "皖A1234"], ["皖A12345", "皖A12345", "皖A12345"]
    assert exact_accuracy(preds, refs) == 1 / 3
    assert province_accuracy(preds, refs) == 2 / 3
    assert per_position_accuracy(preds, refs) == [2 / 3, 1, 1, 1, 1, 1, 0 / 3 + 2 / 3]
    s = summarize(preds, refs)
    assert s["n"] == 3 and s["accuracy"] == 1 / 3 and abs(s["cer"] - 2 / 21) < 1e-9


def test_cer_comes_from_the_local_evaluate_module():
    from plateocr.metrics import _cer_metric
    assert (CER_MODULE / "cer.py").is_file()
    assert type(_cer_metric()).__name__ == "CER"
