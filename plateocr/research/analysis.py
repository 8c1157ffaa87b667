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
    """Counts of true (rows) against predicted (columns) province characters, square: both axes list
    the same provinces in the same order (most frequent true province first, then provinces only
    ever predicted, then ∅), so right reads lie on the diagonal."""
    truth = df["province"].value_counts()
    order = list(truth.sort_index().sort_values(ascending=False, kind="stable").index)
    order += sorted(set(df["predicted_province"]) - set(order) - {NO_PROVINCE})
    if (df["predicted_province"] == NO_PROVINCE).any():
        order.append(NO_PROVINCE)
    return pd.crosstab(df["province"], df["predicted_province"]).reindex(index=order, columns=order, fill_value=0)


def row_normalised(table: pd.DataFrame) -> pd.DataFrame:
    """Each row as shares of its total (rows without plates stay 0)."""
    totals = table.sum(axis=1).replace(0, 1)
    return table.div(totals, axis=0)


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


def annotate_metrics(path, started: float, extra: dict) -> dict:
    """Add to a training run's metrics.json what its notebook did afterwards: the notebook's wall
    time and `extra` (a PlateReader in it is recorded as its settings and model sha256)."""
    import json
    import time
    from pathlib import Path

    from ..training.provenance import reader_settings

    path = Path(path)
    metrics = json.loads(path.read_text(encoding="utf-8"))
    report = {k: reader_settings(v) if hasattr(v, "decoder") else v for k, v in extra.items()}
    metrics["report"] = {"wall_time_s": round(time.time() - started, 1), **report}
    write_json(metrics, path)
    return metrics


def report_provenance(
    parameters: dict, records, started: float | None = None, readers: dict | None = None, device: str = "cpu"
) -> dict:
    """A report's provenance: versions, commit, parameters, data fingerprint, device, wall time since
    `started` (time.time()), and how each named PlateReader read (model sha256, views, deskew, decoder)."""
    import time

    from ..training.provenance import files_fingerprint, provenance, reader_settings

    wall = round(time.time() - started, 1) if started is not None else None
    out = provenance(parameters, files_fingerprint(r.path for r in records), device, wall)
    out["readers"] = {name: reader_settings(r) for name, r in (readers or {}).items()}
    return out


# -- slant, image statistics and calibration --------------------------------------------------

SLANT_BINS = (0, 4, 8, 12, 16, 90)  # |slant| in degrees; plates beyond 8° were the misread ones


def crop_statistics(paths, input_size: tuple[int, int]) -> pd.DataFrame:
    """Per crop: width, height, mean brightness and RMS contrast (0–255 grey) and the slant of its
    upright strokes in degrees, measured as the reader measures it (plateocr.deskew.slant)."""
    from ..data.deskew import slant
    from ..data.images import load_image

    rows = []
    for p in paths:
        image = load_image(p) if isinstance(p, (str, bytes)) or hasattr(p, "__fspath__") else p
        grey = np.asarray(image.convert("L"), np.float32)
        rows.append(
            {
                "width": image.size[0],
                "height": image.size[1],
                "brightness": float(grey.mean()),
                "contrast": float(grey.std()),
                "slant_deg": float(np.degrees(np.arctan(slant(image, input_size)))),
            }
        )
    return pd.DataFrame(rows, columns=["width", "height", "brightness", "contrast", "slant_deg"])


def accuracy_by_slant(slant_deg, correct, bins=SLANT_BINS) -> pd.DataFrame:
    """Plates and exact accuracy in each band of |slant| (degrees)."""
    frame = pd.DataFrame({"slant": np.abs(np.asarray(slant_deg, float)), "correct": np.asarray(correct, bool)})
    labels = [f"{lo}–{hi}°" if hi < 90 else f"≥ {lo}°" for lo, hi in zip(bins[:-1], bins[1:])]
    frame["band"] = pd.cut(frame["slant"], list(bins), labels=labels, right=False, include_lowest=True)
    out = frame.groupby("band", observed=False)["correct"].agg(plates="size", accuracy="mean").reset_index()
    out.insert(1, "from_deg", list(bins[:-1]))
    return out


def reliability_table(confidences, correct, bins: int = 10) -> pd.DataFrame:
    """calibration.reliability as a table, empty bins dropped."""
    from ..scoring.calibration import reliability

    rows = [r for r in reliability(confidences, correct, bins) if r["n"]]
    return pd.DataFrame(rows, columns=["low", "high", "n", "confidence", "accuracy"])


# -- out-of-fold readings (bench/accuracy.py --predictions) -----------------------------------

DEFAULT_READING = "constrained_deskew"  # the reading PlateReader.from_pretrained() gives: one view, deskewed


def load_predictions(csv_path, meta_path=None, root=None) -> tuple[pd.DataFrame, dict]:
    """Out-of-fold readings as a rows_frame, and their provenance with the column read and a note.

    The column is the one the provenance JSON names as `default_reading`; without one, the
    default reader's (one view of each deskewed crop). Paths are relative to `root` (the repo).
    Calibrated confidences are used where the file has them.
    """
    import json
    from pathlib import Path

    csv_path = Path(csv_path)
    meta_path = Path(meta_path) if meta_path else csv_path.with_suffix(".json")
    meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else {}
    raw = pd.read_csv(csv_path, keep_default_na=False, dtype=str)
    column = meta.get("default_reading") or DEFAULT_READING
    if column not in raw.columns:
        raise ValueError(f"{csv_path}: no column {column!r} (it has {', '.join(raw.columns)})")
    calibrated = "calibrated_confidence" in raw.columns and (raw["calibrated_confidence"] != "").all()
    confidence = raw["calibrated_confidence" if calibrated else "confidence"].replace("", "nan").astype(float)
    root = Path(root) if root else Path(csv_path).resolve().parent
    paths = [str(p if Path(p).is_absolute() else root / p) for p in raw["path"]]
    df = rows_frame(
        [
            {"path": p, "label": label, "plate": plate, "confidence": c, "error": None, "correct": plate == label}
            for p, label, plate, c in zip(paths, raw["label"], raw[column], confidence)
        ]
    )
    df["fold"] = raw["fold"].to_numpy()
    calibration = f"temperature {meta.get('temperature')}" + (
        f", confidence map {meta['confidence_map']}" if meta.get("confidence_map") else ""
    )
    note = (
        f"{len(df)} out-of-fold readings from {csv_path.name}, column `{column}`"
        + ("" if meta.get("default_reading") else " (no provenance naming the default column: the default reader's)")
        + (f", calibrated confidences ({calibration})" if calibrated else "")
    )
    return df, {
        "column": column,
        "calibrated": calibrated,
        "note": note,
        "provenance": meta,
        "readings": {
            c: float((raw[c] == raw["label"]).mean())
            for c in raw.columns
            if c not in ("fold", "path", "label", "confidence", "calibrated_confidence")
            and not c.endswith("confidence")
        },
    }


def readings_table(readings: dict[str, float]) -> pd.DataFrame:
    """Exact accuracy of each reading column of a predictions file, best first."""
    return (
        pd.Series(readings, name="exact accuracy")
        .sort_values(ascending=False)
        .round(4)
        .rename_axis("reading")
        .to_frame()
    )


def summary_of(df: pd.DataFrame) -> dict:
    """Exact accuracy, CER and province accuracy of a rows_frame."""
    from ..scoring.metrics import summarize

    s = summarize(list(df["plate"]), list(df["label"]))
    return {"n": len(df), "accuracy": s["accuracy"], "cer": s["cer"], "province_accuracy": s["province_accuracy"]}


# -- conclusions, rendered from a run's own numbers ---------------------------------------------


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def conclude_overview(real: pd.DataFrame, synthetic: pd.DataFrame) -> str:
    top = real["province"].value_counts()
    types = ", ".join(sorted(synthetic["plate_type"].unique()))
    return (
        f"**Conclusion.** The real set has {len(real)} plates from {real['province'].nunique()} provinces, "
        f"{_pct(top.iloc[0] / len(real))} of them {top.index[0]}; its plate types: "
        f"{', '.join(sorted(real['plate_type'].unique()))}. The {len(synthetic)} synthetic plates cover "
        f"{synthetic['province'].nunique()} provinces and these types: {types}. Anything the real set "
        f"lacks is learnt from synthetic plates only, and measured here on few or no real plates."
    )


def conclude_provinces(real: pd.DataFrame) -> str:
    counts = real["province"].value_counts()
    rare = counts[counts < 5]
    second = f"the next, {counts.index[1]}, has {counts.iloc[1]}" if len(counts) > 1 else "there is no other"
    return (
        f"**Conclusion.** {counts.index[0]} has {counts.iloc[0]} plates; {second}; {len(rare)} of "
        f"{len(counts)} provinces have fewer than 5. A per-province figure for those is a handful "
        f"of plates: read it with its n."
    )


def conclude_characters(real: pd.DataFrame) -> str:
    from ..alphabet import LETTERS

    seen = set("".join(real["label"]))
    letters = [c for c in LETTERS if c not in "IO"]  # I and O are never on a plate
    missing = [c for c in letters if c not in seen]
    freq = character_frequencies(real["label"])
    absent = (
        f"{len(missing)} of the {len(letters)} plate letters never occur in the real set ({''.join(missing)})"
        if missing
        else f"all {len(letters)} plate letters occur"
    )
    return f"**Conclusion.** The most frequent characters are {', '.join(freq.index[:5])}; {absent}."


def conclude_crops(real: pd.DataFrame, synthetic: pd.DataFrame, threshold: float = 8.0) -> str:
    sizes = real.groupby(["width", "height"]).size().sort_values(ascending=False, kind="stable")
    (w, h), n = sizes.index[0], sizes.iloc[0]
    size = (
        f"every real crop is {w} × {h} pixels"
        if len(sizes) == 1
        else f"{_pct(n / len(real))} of the real crops are {w} × {h} pixels ({len(sizes)} sizes)"
    )
    steep = lambda df: float((df["slant_deg"].abs() > threshold).mean())
    return (
        f"**Conclusion.** {size[0].upper() + size[1:]}. Median |slant|: real "
        f"{real['slant_deg'].abs().median():.1f}°, synthetic {synthetic['slant_deg'].abs().median():.1f}°; "
        f"beyond {threshold:.0f}°: {_pct(steep(real))} of real and {_pct(steep(synthetic))} of synthetic "
        f"crops. Brightness (mean grey) real {real['brightness'].mean():.0f}, synthetic "
        f"{synthetic['brightness'].mean():.0f}; contrast (grey s.d.) real {real['contrast'].mean():.0f}, "
        f"synthetic {synthetic['contrast'].mean():.0f}."
    )


def conclude_training(history: list[dict], kept_epoch: int, real: dict | None, real_name: str) -> str:
    last = history[-1]
    best = max(history, key=lambda h: h["val_accuracy"])
    kept = next(h for h in history if h["epoch"] == kept_epoch)
    text = (
        f"**Conclusion.** After {last['epoch']} epochs the held-out synthetic plates read "
        f"{kept['val_accuracy']:.3f} exact (CER {kept['val_cer']:.3f}) at the kept epoch {kept_epoch}; "
        f"the best epoch was {best['epoch']} ({best['val_accuracy']:.3f})."
    )
    if real:
        text += (
            f" On {real['n']} real plates of {real_name}, which neither trained nor chose it, the same "
            f"model reads {real['accuracy']:.3f} exact, CER {real['cer']:.3f}, province "
            f"{real['province_accuracy']:.3f}: the gap from {kept['val_accuracy']:.3f} is what "
            f"synthetic plates do not yet teach."
        )
    return text


def conclude_headline(summaries: dict[str, dict]) -> str:
    parts = [
        f"{name} reads {s['accuracy']:.3f} of {s['n']} plates exact (CER {s['cer']:.4f}, province "
        f"{s['province_accuracy']:.3f})"
        for name, s in summaries.items()
    ]
    return "**Conclusion.** " + "; ".join(parts) + "."


def conclude_province_errors(df: pd.DataFrame, name: str) -> str:
    wrong = df[df["province"] != df["predicted_province"]]
    if wrong.empty:
        return f"**Conclusion.** {name} reads every province character right."
    pairs = wrong.groupby(["province", "predicted_province"]).size().sort_values(ascending=False)
    top = ", ".join(f"{t} → {p} ×{n}" for (t, p), n in pairs.head(5).items())
    non_major = df[df["province"] != df["province"].value_counts().index[0]]
    return (
        f"**Conclusion.** {name} misreads {len(wrong)} of {len(df)} province characters; most often "
        f"{top}. Plates outside the majority province: {len(non_major)}, province right on "
        f"{_pct(float((non_major['province'] == non_major['predicted_province']).mean()) if len(non_major) else 1.0)}."
    )


def conclude_character_errors(confusions: pd.DataFrame, kinds: pd.Series, name: str) -> str:
    if confusions.empty and kinds.empty:
        return f"**Conclusion.** {name} makes no character errors here."
    top = ", ".join(f"{t} → {p} ×{n}" for t, p, n in confusions.head(6).itertuples(index=False))
    kind_text = ", ".join(f"{k}: {v}" for k, v in kinds.items())
    return f"**Conclusion.** {name}'s commonest substitutions: {top or 'none'}. Wrong plates by kind: {kind_text}."


def conclude_slant(tables: dict[str, pd.DataFrame], threshold: float = 8.0) -> str:
    parts = []
    for name, t in tables.items():
        lows, highs = t[t["from_deg"] < threshold], t[t["from_deg"] >= threshold]
        err = lambda part: 1 - (part["accuracy"] * part["plates"]).sum() / max(1, part["plates"].sum())
        if highs["plates"].sum():
            parts.append(
                f"{name}: {_pct(err(highs))} wrong beyond {threshold:.0f}° "
                f"({int(highs['plates'].sum())} plates) against {_pct(err(lows))} below"
            )
        else:
            parts.append(f"{name}: no plates beyond {threshold:.0f}°")
    return "**Conclusion.** " + "; ".join(parts) + "."


def conclude_calibration(models: dict[str, pd.DataFrame], eces: dict[str, float]) -> str:
    parts = []
    for name, df in models.items():
        gap = float(df["confidence"].mean() - df["correct"].mean())
        parts.append(
            f"{name}: ECE {eces[name]:.3f}, mean confidence {df['confidence'].mean():.3f} against "
            f"accuracy {df['correct'].mean():.3f} ("
            + ("over-confident" if gap > 0.02 else "under-confident" if gap < -0.02 else "about right")
            + ")"
        )
    return (
        "**Conclusion.** " + "; ".join(parts) + ". A confidence threshold rejects wrong reads "
        "without losing right ones only where the curve lies near the diagonal."
    )


def conclude_gallery(df: pd.DataFrame, name: str, confident: float = 0.5) -> str:
    wrong = df[~df["correct"]]
    if wrong.empty:
        return f"**Conclusion.** {name} reads every plate here right."
    sure = wrong[wrong["confidence"] >= confident]
    return (
        f"**Conclusion.** {name} reads {len(wrong)} plates wrong; {len(sure)} of them with confidence "
        f"≥ {confident} (shown first), which a confidence threshold would not catch; "
        f"{int((sure['province'] != sure['predicted_province']).sum())} of those are the province."
    )
