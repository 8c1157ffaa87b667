"""Tables behind the notebooks: data set summaries and error analysis of evaluation rows.

Rows are the dicts `evaluation.read_records` returns (label, plate, confidence, types, error).
pandas is imported here only, so `import plateocr` stays light.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
from rapidfuzz.distance import Levenshtein

from ..alphabet import province_of

NO_PROVINCE = "∅"  # the prediction has no province character in front


def rows_frame(rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    df["province"] = df["label"].map(province_of)
    df["predicted_province"] = df["plate"].map(lambda p: province_of(p) or NO_PROVINCE)
    return df


def records_frame(records) -> pd.DataFrame:
    """One row per record: label, province, length, plate type."""
    return _plates_frame([{"path": r.path, "label": r.label, "plate_type": r.plate_type} for r in records])


def _plates_frame(rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows)
    df["province"] = df["label"].map(province_of)
    df["length"] = df["label"].str.len()
    return df


def character_frequencies(labels) -> pd.Series:
    return pd.Series(Counter("".join(labels))).sort_values(ascending=False)


def per_province_accuracy(df: pd.DataFrame) -> pd.DataFrame:
    """Exact-plate and province-character accuracy for each true province, most plates first."""
    out = (
        df.assign(province_ok=df["province"] == df["predicted_province"])
        .groupby("province")
        .agg(plates=("correct", "size"), exact=("correct", "mean"), province_char=("province_ok", "mean"))
    )
    return out.sort_values("plates", ascending=False)


def province_confusion(df: pd.DataFrame) -> pd.DataFrame:
    """Counts of true (rows) against predicted (columns) province characters."""
    table = pd.crosstab(df["province"], df["predicted_province"])
    labels = sorted(set(table.index) | set(table.columns), key=lambda p: (p == NO_PROVINCE, p))
    return table.reindex(index=[p for p in labels if p in set(df["province"])], columns=labels, fill_value=0)


def character_confusions(df: pd.DataFrame, top: int = 20) -> pd.DataFrame:
    """The most frequent (true → predicted) substitutions over all positions."""
    pairs: Counter[tuple[str, str]] = Counter()
    for label, plate in zip(df["label"], df["plate"]):
        for op in Levenshtein.editops(label, plate):
            if op.tag == "replace":
                pairs[(label[op.src_pos], plate[op.dest_pos])] += 1
    rows = [{"true": t, "predicted": p, "count": n} for (t, p), n in pairs.most_common(top)]
    return pd.DataFrame(rows, columns=["true", "predicted", "count"])


def length_errors(df: pd.DataFrame) -> pd.DataFrame:
    """Plates read with missing or extra characters, by how many."""
    diff = df["plate"].str.len() - df["label"].str.len()
    kind = np.where(diff < 0, "missing characters", np.where(diff > 0, "extra characters", "right length"))
    return (
        pd.DataFrame({"kind": kind, "by": diff.abs()})
        .value_counts()
        .rename("plates")
        .reset_index()
        .sort_values(["kind", "by"])
    )


def error_kinds(df: pd.DataFrame) -> pd.Series:
    """Wrong plates split into province-only, other-single-character, length and multiple errors."""
    wrong = df[~df["correct"]]

    def kind(r):
        if len(r["plate"]) != len(r["label"]):
            return "length"
        diffs = [i for i, (a, b) in enumerate(zip(r["label"], r["plate"])) if a != b]
        if diffs == [0]:
            return "province only"
        return "one other character" if len(diffs) == 1 else "several characters"

    return wrong.apply(kind, axis=1).value_counts() if len(wrong) else pd.Series(dtype=int)


def accuracy_vs_rejection(df: pd.DataFrame, points: int = 50) -> pd.DataFrame:
    """Accuracy of the plates kept when those below a rising confidence threshold are rejected."""
    conf = df["confidence"].to_numpy()
    correct = df["correct"].to_numpy()
    thresholds = np.unique(np.quantile(conf, np.linspace(0, 0.99, points)))
    rows = []
    for t in thresholds:
        kept = conf >= t
        rows.append(
            {
                "threshold": float(t),
                "rejection_rate": 1 - kept.mean(),
                "accuracy": correct[kept].mean() if kept.any() else np.nan,
            }
        )
    return pd.DataFrame(rows)


def type_confusion(df: pd.DataFrame) -> pd.DataFrame:
    return pd.crosstab(df["true_type"], df["plate_type"])


def synthetic_frame(plates) -> pd.DataFrame:
    """The records_frame of a SyntheticPlates set (renders each plate once)."""
    rows = []
    for i in range(len(plates)):
        _, label, kind = plates[i]
        rows.append({"path": f"synthetic/{i}", "label": label, "plate_type": kind})
    return _plates_frame(rows)


def dataset_overview(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Plates, provinces, plate types and lengths of each named data set, one column per set."""
    out = {}
    for name, df in frames.items():
        col = {
            "plates": len(df),
            "provinces": df["province"].nunique(),
            "non-皖 share": round(float((df["province"] != "皖").mean()), 3),
        }
        col.update({f"type {k}": int(v) for k, v in df["plate_type"].value_counts().sort_index().items()})
        col.update({f"length {k}": int(v) for k, v in df["length"].value_counts().sort_index().items()})
        out[name] = col
    return pd.DataFrame(out).fillna(0)


def image_sizes(records) -> pd.DataFrame:
    """Width and height of each record's image, read from the file header only."""
    from PIL import Image

    sizes = []
    for r in records:
        with Image.open(r.path) as im:
            sizes.append(im.size)
    return pd.DataFrame(sizes, columns=["width", "height"])


def write_json(data: dict, path) -> None:
    import json
    from pathlib import Path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str), encoding="utf-8")


HEADLINE = {
    "n": "plates",
    "accuracy": "exact-plate accuracy",
    "cer": "CER",
    "province_accuracy": "province-character accuracy",
    "type_accuracy": "plate-type accuracy",
}


def headline(summaries: dict[str, dict]) -> pd.DataFrame:
    """The headline metrics of several evaluation summaries side by side."""
    return pd.DataFrame(
        {name: {label: s[key] for key, label in HEADLINE.items()} for name, s in summaries.items()}
    ).round(4)


def report_provenance(parameters: dict, records, device: object = "cpu") -> dict:
    """Provenance of a report on `records`; `device` is where its readers ran (PlateReader.device;
    the CPU is where `PlateReader.from_pretrained` reads unless told otherwise)."""
    from ..training.provenance import files_fingerprint, provenance

    return provenance(parameters, files_fingerprint(r.path for r in records), str(device))
