"""Scoring a reader on labelled data: rows, the summary, and unreadable files as named, counted rows."""

import shutil

import pytest

from plateocr import SAMPLE_DIR, PlateReader
from plateocr.data.datasets import PlateRecord, list_records
from plateocr.scoring.evaluation import evaluate_reader, read_records, records_for, summarize_rows
from plateocr.scoring.metrics import cer
from tests.test_images import SMALLEST, damaged_copies


@pytest.fixture(scope="module")
def reader():
    return PlateReader.from_pretrained(tta="none")


def test_rows_and_summary_agree_on_the_sample(reader):
    records = records_for("sample", workdir=None)
    summary, rows = evaluate_reader(reader, records)
    assert [r["path"] for r in rows] == [r.path for r in records]
    assert summary["n"] == len(records) == len(list(SAMPLE_DIR.glob("*.jpg")))
    assert summary["accuracy"] == sum(r["plate"] == r["label"] for r in rows) / len(rows)
    assert summary["cer"] == cer([r["plate"] for r in rows], [r["label"] for r in rows])
    assert summary["unreadable"] == 0 and summary["invalid"] == sum(not r["valid"] for r in rows)
    assert summary["plates_per_s"] > 0
    one = reader.read(records[0].path)
    assert (rows[0]["plate"], rows[0]["valid"]) == (one.plate, one.valid)


def test_summary_counts_types_unreadable_and_invalid_reads():
    row = dict(path="p", label="皖A12345", confidence=0.9, error=None)
    rows = [
        {**row, "plate": "皖A12345", "valid": True, "true_type": "blue", "plate_type": "blue", "correct": True},
        {**row, "plate": "皖A1234", "valid": False, "true_type": "blue", "plate_type": "green", "correct": False},
        {
            **row,
            "plate": "",
            "valid": False,
            "true_type": "green",
            "plate_type": "",
            "correct": False,
            "error": "p: empty file (0 bytes)",
            "label": "皖AD12345",
        },
    ]
    s = summarize_rows(rows)
    assert (s["n"], s["unreadable"], s["invalid"]) == (3, 1, 1)
    assert s["accuracy_by_type"] == {"blue": 0.5, "green": 0.0}
    assert s["type_accuracy"] == pytest.approx(1 / 3)
    assert s["type_confusion"] == {"blue": {"blue": 1, "green": 1}}  # an unreadable image has no type


def test_every_truncation_and_byte_flip_is_a_named_counted_unreadable_row(reader, tmp_path):
    """Fuzzing evaluation: every prefix of a real JPEG and random byte flips, labelled as the
    original; reading never raises, and each file that cannot be read is a row naming it and why."""
    label = SMALLEST.stem
    for name, data in damaged_copies(SMALLEST, n_flips=100):
        (tmp_path / f"{label}_{name}.jpg").write_bytes(data)
    shutil.copy(SMALLEST, tmp_path / f"{label}_whole.jpg")
    records, skipped = list_records(tmp_path, held_out=True)
    assert len(records) == SMALLEST.stat().st_size + 100 + 1 and len(skipped) == 0
    summary, rows = evaluate_reader(reader, records, batch_size=256)
    bad = [r for r in rows if r["error"]]
    assert summary["unreadable"] == len(bad) >= SMALLEST.stat().st_size - 2
    assert all(r["error"].startswith(r["path"]) and r["plate"] == "" and not r["valid"] for r in bad)
    whole = next(r for r in rows if r["path"].endswith("_whole.jpg"))
    assert whole["error"] is None and whole["plate"] == reader.read(SMALLEST).plate


def test_a_raw_photo_that_cannot_be_read_is_a_row_not_a_crash(reader, tmp_path):
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(b"")
    records = [PlateRecord(str(photo), "皖A12345", "blue", ((10, 40), (0, 40), (0, 10), (10, 10)))]
    rows, _ = read_records(reader, records)
    assert rows[0]["error"] and "empty file" in rows[0]["error"] and rows[0]["plate"] == ""
