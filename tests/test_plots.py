"""Figures of the notebooks draw from real tables, with Chinese labels in the packaged CJK font."""

import matplotlib
import pandas as pd
import pytest

from plateocr.research import analysis, plots

matplotlib.use("Agg")


@pytest.fixture
def frame():
    rows = [
        {"label": "皖A12345", "plate": "皖A12345", "confidence": 0.9, "correct": True, "error": None, "path": None},
        {"label": "苏E00001", "plate": "京E00001", "confidence": 0.8, "correct": False, "error": None, "path": None},
    ]
    return analysis.rows_frame(rows)


def test_confusion_heatmap_labels_rows_with_their_counts(frame):
    fig = plots.confusion_heatmap(analysis.province_confusion(frame), "Province confusion: m")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["皖 (1)", "苏 (1)", "京 (0)"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["皖", "苏", "京"]
    assert sorted(t.get_text() for t in ax.texts) == ["1", "1"]


def test_recall_bars_and_slant_and_reliability_draw_one_series_per_model(frame):
    tables = {"a": analysis.per_province_accuracy(frame), "b": analysis.per_province_accuracy(frame)}
    assert len(plots.recall_bars(tables, "recall").axes[0].patches) == 4
    slant = {"a": analysis.accuracy_by_slant([1.0, 9.0], [True, False])}
    assert len(plots.accuracy_against_slant(slant).axes[0].lines) == 1
    table = analysis.reliability_table(frame["confidence"], frame["correct"])
    fig = plots.reliability_diagram({"a": table}, {"a": 0.1})
    assert "ECE 0.100" in fig.axes[0].get_legend().get_texts()[1].get_text()


def test_error_gallery_shows_the_most_confident_errors_first(tmp_path):
    from plateocr import SAMPLE_DIR

    paths = sorted(SAMPLE_DIR.glob("*.jpg"))[:3]
    df = analysis.rows_frame(
        [
            {"label": p.stem, "plate": "皖A00000", "confidence": c, "correct": False, "error": None, "path": str(p)}
            for p, c in zip(paths, [0.2, 0.9, 0.5])
        ]
    )
    fig = plots.error_gallery(df, "m", n=3, ncols=3)
    assert [ax.get_title().split("(")[-1] for ax in fig.axes[:3]] == ["0.90)", "0.50)", "0.20)"]


def test_plate_types_strip_shows_every_type():
    from plateocr.alphabet import PLATE_TYPES

    fig = plots.plate_types_strip(per_type=1)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert [t.split(" · ")[0] for t in titles] == list(PLATE_TYPES)


def test_confusion_pairs_says_none_for_a_model_without_errors():
    empty = pd.DataFrame(columns=["true", "predicted", "count"])
    fig = plots.confusion_pairs({"m": empty}, "t")
    assert any(t.get_text() == "none" for t in fig.axes[0].texts)
