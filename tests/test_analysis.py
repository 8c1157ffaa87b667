"""The tables behind notebook 03: error analysis of evaluation rows, data set summaries, provenance."""

import csv
import json

import numpy as np
import pandas as pd
import pytest

from plateocr import SAMPLE_DIR, PlateReader
from plateocr.data.datasets import list_records
from plateocr.models.crnn import input_size
from plateocr.research import analysis
from plateocr.scoring.evaluation import read_records


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


# -- notebook tables, conclusions and figures --


@pytest.fixture(scope="module")
def sample_rows():
    """The shipped model's readings of the sample, three of them altered into typical errors."""
    records = list_records(SAMPLE_DIR)[0]
    rows = read_records(PlateReader.from_pretrained(tta="none"), records)[0]
    wrong = {
        0: lambda p: ("粤" if p[0] != "粤" else "京") + p[1:],
        1: lambda p: p[:-1],
        2: lambda p: p[:-1] + ("8" if p[-1] != "8" else "B"),
    }
    for i, change in wrong.items():
        rows[i] = {**rows[i], "plate": change(rows[i]["label"]), "correct": False}
    return analysis.rows_frame(rows)


def test_province_confusion_is_square_with_the_same_order_on_both_axes(sample_rows):
    table = analysis.province_confusion(sample_rows)
    assert list(table.index) == list(table.columns)
    assert table.to_numpy().sum() == len(sample_rows)
    counts = sample_rows["province"].value_counts()
    assert table.index[0] == counts.index[0]
    right = (sample_rows["province"] == sample_rows["predicted_province"]).sum()
    assert np.trace(table.to_numpy()) == right
    shares = analysis.row_normalised(table)
    filled = table.sum(axis=1) > 0
    assert np.allclose(shares[filled].sum(axis=1), 1.0)


def test_province_confusion_lists_a_missing_province_last():
    df = analysis.rows_frame(
        [
            {"label": "皖A12345", "plate": "A12345", "confidence": 0.5, "correct": False},
            {"label": "皖A12346", "plate": "皖A12346", "confidence": 0.9, "correct": True},
        ]
    )
    table = analysis.province_confusion(df)
    assert list(table.columns) == ["皖", analysis.NO_PROVINCE]
    assert table.loc["皖", analysis.NO_PROVINCE] == 1


def test_accuracy_by_slant_bands_every_plate_once():
    slants = [-1.0, 3.0, 5.0, -9.0, 20.0]
    table = analysis.accuracy_by_slant(slants, [True, True, False, False, True])
    assert table["plates"].sum() == 5
    assert list(table["plates"]) == [2, 1, 1, 0, 1]
    assert table.loc[table["from_deg"] == 8, "accuracy"].item() == 0.0


def test_crop_statistics_reads_every_crop_at_the_models_input(sample_rows):
    stats = analysis.crop_statistics(list(sample_rows["path"][:5]), input_size("wide"))
    assert len(stats) == 5 and (stats["width"] > stats["height"]).all()
    assert stats["slant_deg"].abs().max() < 45 and (stats["brightness"] > 0).all()


def test_reliability_table_drops_empty_bins():
    table = analysis.reliability_table([0.95, 0.92, 0.15], [True, False, False], bins=10)
    assert list(table["n"]) == [1, 2]
    assert table["accuracy"].tolist() == [0.0, 0.5]


def write_predictions(tmp_path, rows, meta=None):
    path = tmp_path / "cv_predictions.csv"
    columns = ["fold", "path", "label", "greedy", "constrained_deskew", "confidence", "calibrated_confidence"]
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        writer.writerows(rows)
    if meta is not None:
        (tmp_path / "cv_predictions.json").write_text(json.dumps(meta), encoding="utf-8")
    return path


def test_load_predictions_reads_the_column_its_provenance_names(tmp_path):
    rows = [
        [0, "a.jpg", "皖A12345", "皖A12345", "皖A12346", "0.9", "0.8"],
        [1, "b.jpg", "苏E00001", "京E00001", "苏E00001", "0.4", "0.6"],
    ]
    df, info = analysis.load_predictions(
        write_predictions(
            tmp_path, rows, {"default_reading": "greedy", "temperature": 1.5, "confidence_map": [0.5, 2.0]}
        ),
        root=tmp_path,
    )
    assert info["column"] == "greedy" and info["calibrated"]
    assert df["plate"].tolist() == ["皖A12345", "京E00001"]
    assert df["correct"].tolist() == [True, False]
    assert df["confidence"].tolist() == [0.8, 0.6]
    assert df["path"].tolist() == [str(tmp_path / "a.jpg"), str(tmp_path / "b.jpg")]
    assert info["readings"] == {"greedy": 0.5, "constrained_deskew": 0.5}
    assert "temperature 1.5, confidence map [0.5, 2.0])" in info["note"]


def test_load_predictions_without_provenance_reads_the_default_readers_column(tmp_path):
    rows = [[0, "a.jpg", "皖A12345", "皖A12345", "皖A12346", "0.9", ""]]
    df, info = analysis.load_predictions(write_predictions(tmp_path, rows), root=tmp_path)
    assert info["column"] == analysis.DEFAULT_READING and not info["calibrated"]
    assert df["plate"].tolist() == ["皖A12346"] and df["confidence"].tolist() == [0.9]
    assert "no provenance" in info["note"]


def test_load_predictions_names_a_missing_column(tmp_path):
    rows = [[0, "a.jpg", "皖A12345", "皖A12345", "皖A12346", "0.9", ""]]
    with pytest.raises(ValueError, match="no column 'constrained_shift'"):
        analysis.load_predictions(write_predictions(tmp_path, rows, {"default_reading": "constrained_shift"}))


def test_conclusions_carry_the_runs_numbers(sample_rows):
    summary = analysis.summary_of(sample_rows)
    text = analysis.conclude_headline({"shipped": summary})
    assert f"{summary['accuracy']:.3f} of {len(sample_rows)} plates" in text
    # The sample is unseen by the shipped model: count its own errors beside the three made here.
    province_errors = int((sample_rows["province"] != sample_rows["predicted_province"]).sum())
    assert province_errors >= 1
    assert f"misreads {province_errors} of {len(sample_rows)} province characters" in analysis.conclude_province_errors(
        sample_rows, "shipped"
    )
    confusions = analysis.character_confusions(sample_rows)
    kinds = analysis.error_kinds(sample_rows)
    assert f"length: {kinds['length']}" in analysis.conclude_character_errors(confusions, kinds, "m")
    gallery = analysis.conclude_gallery(sample_rows, "shipped")
    assert f"reads {int((~sample_rows['correct']).sum())} plates wrong" in gallery
    calibration = analysis.conclude_calibration({"shipped": sample_rows}, {"shipped": 0.1})
    assert "ECE 0.100" in calibration


def test_crop_and_training_conclusions():
    real = pd.DataFrame(
        {
            "width": [94, 94],
            "height": [24, 24],
            "brightness": [100.0, 110.0],
            "contrast": [40.0, 50.0],
            "slant_deg": [2.0, -10.0],
        }
    )
    text = analysis.conclude_crops(real, real.assign(slant_deg=[1.0, 1.0]))
    assert "Every real crop is 94 × 24 pixels" in text and "50.0 % of real" in text
    history = [{"epoch": 1, "val_accuracy": 0.2, "val_cer": 0.5}, {"epoch": 2, "val_accuracy": 0.4, "val_cer": 0.3}]
    text = analysis.conclude_training(
        history, 2, {"n": 51, "accuracy": 0.1, "cer": 0.2, "province_accuracy": 0.3}, "sample"
    )
    assert "kept epoch 2" in text and "reads 0.100 exact" in text


def test_annotate_metrics_records_the_readers_model(tmp_path):
    import time

    from plateocr.training.provenance import file_sha256

    path = tmp_path / "metrics.json"
    path.write_text(json.dumps({"history": []}), encoding="utf-8")
    reader = PlateReader.from_pretrained()
    metrics = analysis.annotate_metrics(path, time.time(), {"kept_checkpoint": reader, "real": None})
    saved = json.loads(path.read_text(encoding="utf-8"))["report"]
    assert saved == metrics["report"] and saved["wall_time_s"] >= 0
    assert saved["kept_checkpoint"]["sha256"] == file_sha256(reader.source)
    assert saved["kept_checkpoint"]["tta"] == reader.tta and saved["kept_checkpoint"]["decoder"] == "constrained"
