"""The tables behind notebook 03: error analysis of evaluation rows, data set summaries, provenance."""

import pandas as pd
import pytest

from plateocr import SAMPLE_DIR
from plateocr.data.datasets import list_records
from plateocr.research import analysis


def row(label, plate, confidence=0.9, true_type="blue", plate_type="blue"):
    return {
        "path": f"{label}.jpg",
        "label": label,
        "plate": plate,
        "confidence": confidence,
        "valid": True,
        "true_type": true_type,
        "plate_type": plate_type,
        "error": None,
        "correct": label == plate,
    }


ROWS = [
    row("皖A12345", "皖A12345", 0.99),
    row("皖A12346", "苏A12346", 0.4),  # province only
    row("京AD12345", "京AD1234", 0.3, "green", "green"),  # a missing character
    row("沪B54321", "沪B54821", 0.6),
    row("皖C11111", "", 0.0, plate_type=""),
]  # one other; nothing read


@pytest.fixture
def df():
    return analysis.rows_frame(ROWS)


def test_rows_frame_adds_true_and_predicted_provinces(df):
    assert list(df["province"]) == ["皖", "皖", "京", "沪", "皖"]
    assert list(df["predicted_province"]) == ["皖", "苏", "京", "沪", analysis.NO_PROVINCE]


def test_per_province_accuracy_and_confusion(df):
    table = analysis.per_province_accuracy(df)
    assert list(table.index) == ["皖", "京", "沪"]  # most plates first
    assert table.loc["皖", "plates"] == 3 and table.loc["皖", "exact"] == pytest.approx(1 / 3)
    assert table.loc["皖", "province_char"] == pytest.approx(1 / 3)
    confusion = analysis.province_confusion(df)
    assert confusion.loc["皖", "苏"] == 1 and confusion.loc["皖", analysis.NO_PROVINCE] == 1
    assert list(confusion.columns)[-1] == analysis.NO_PROVINCE


def test_character_confusions_and_error_kinds(df):
    subs = analysis.character_confusions(df)
    assert set(map(tuple, subs[["true", "predicted"]].values)) == {("皖", "苏"), ("3", "8")}
    kinds = analysis.error_kinds(df)
    assert kinds.to_dict() == {"province only": 1, "length": 2, "one other character": 1}
    lengths = analysis.length_errors(df)
    missing = lengths[lengths["kind"] == "missing characters"].set_index("by")["plates"].to_dict()
    assert missing == {1: 1, 7: 1}


def test_accuracy_rises_as_the_least_confident_plates_are_rejected(df):
    curve = analysis.accuracy_vs_rejection(df, points=10)
    assert curve["rejection_rate"].iloc[0] == 0 and curve["accuracy"].iloc[0] == pytest.approx(0.2)
    assert curve["accuracy"].iloc[-1] == 1.0 and curve["threshold"].is_monotonic_increasing


def test_headline_and_data_set_overview():
    summaries = {"a": {"n": 2, "accuracy": 0.5, "cer": 0.1, "province_accuracy": 1.0, "type_accuracy": 1.0}}
    assert analysis.headline(summaries).loc["exact-plate accuracy", "a"] == 0.5
    records = list_records(SAMPLE_DIR)[0]
    frame = analysis.records_frame(records)
    overview = analysis.dataset_overview({"sample": frame})
    assert overview.loc["plates", "sample"] == len(records) == len(frame)
    assert overview.loc["provinces", "sample"] == frame["province"].nunique()
    sizes = analysis.image_sizes(records[:3])
    assert list(sizes.columns) == ["width", "height"] and (sizes > 0).all().all()
    assert isinstance(analysis.character_frequencies(frame["label"]), pd.Series)


def test_report_provenance_records_the_device_it_is_given():
    records = list_records(SAMPLE_DIR)[0]
    assert analysis.report_provenance({}, records)["device"] == "cpu"
    prov = analysis.report_provenance({"seed": 0}, records, device="cuda:1")
    assert prov["device"] == "cuda:1" and prov["data"]["n_files"] == len(records)
