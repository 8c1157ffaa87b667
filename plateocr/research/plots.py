"""Figures for the notebooks and reports, with Chinese glyphs drawn from a packaged CJK font.

matplotlib is imported here only (not by `import plateocr`).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import font_manager

from ..synth.fonts import FIGURE_FONT, font_path


@lru_cache(maxsize=1)
def use_cjk_font() -> str:
    """Register the CJK font shipped in the `mplfonts` wheel and make it matplotlib's default."""
    path = font_path(FIGURE_FONT)
    font_manager.fontManager.addfont(str(path))
    name = font_manager.FontProperties(fname=str(path)).get_name()
    plt.rcParams["font.family"] = "sans-serif"
    plt.rcParams["font.sans-serif"] = [name, "DejaVu Sans"]
    plt.rcParams["axes.unicode_minus"] = False
    return name


def save(fig, path: str | Path) -> None:
    """Write the figure as PNG (returns nothing, so a notebook cell ending with it shows only the figure)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")


def image_grid(images, titles, ncols: int = 6, title: str = "", scale: float = 1.6):
    """Plate crops in a grid, each with its caption (labels in Chinese render)."""
    use_cjk_font()
    n = len(images)
    nrows = max(1, -(-n // ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * scale, nrows * scale * 0.55), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for ax, img, caption in zip(axes.ravel(), images, titles):
        ax.imshow(np.asarray(img))
        ax.set_title(caption, fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def bar_chart(series, title: str, xlabel: str = "", ylabel: str = "plates", rotate: int = 0):
    use_cjk_font()
    fig, ax = plt.subplots(figsize=(max(5, 0.28 * len(series)), 3.2))
    ax.bar([str(i) for i in series.index], series.to_numpy(), color="#3465a4")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.tick_params(axis="x", labelrotation=rotate)
    fig.tight_layout()
    return fig


def histogram(values, title: str, xlabel: str, bins: int = 30):
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.hist(values, bins=bins, color="#3465a4")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    fig.tight_layout()
    return fig


def training_curves(history: list[dict]):
    """Loss, validation exact accuracy, CER and learning rate against the epoch."""
    epochs = [h["epoch"] for h in history]
    fig, axes = plt.subplots(1, 4, figsize=(14, 3))
    for ax, key, label in zip(
        axes,
        ["train_loss", "val_accuracy", "val_cer", "lr"],
        ["training loss", "validation exact accuracy", "validation CER", "learning rate"],
    ):
        ax.plot(epochs, [h[key] for h in history], marker="o")
        ax.set_title(label)
        ax.set_xlabel("epoch")
        if key == "lr":
            ax.set_yscale("log")
    fig.tight_layout()
    return fig


def confusion_heatmap(table, title: str, xlabel: str = "predicted", ylabel: str = "true"):
    """A square count table (same labels on both axes) coloured by row share, counts written in,
    so the diagonal is the recall of each true label."""
    use_cjk_font()
    values = table.to_numpy()
    shares = values / np.maximum(values.sum(axis=1, keepdims=True), 1)
    side = max(4, 0.42 * max(values.shape) + 2)
    fig, ax = plt.subplots(figsize=(side + 1, side))
    im = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(values.shape[1]), [str(c) for c in table.columns])
    ax.set_yticks(range(values.shape[0]), [f"{i} ({n})" for i, n in zip(table.index, values.sum(axis=1))])
    for (i, j), v in np.ndenumerate(values):
        if v:
            ax.text(
                j, i, str(v), ha="center", va="center", fontsize=7, color="white" if shares[i, j] > 0.6 else "black"
            )
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"{ylabel} (plates)")
    ax.set_title(title, fontsize=10)
    fig.colorbar(im, ax=ax, label="share of the row", fraction=0.046, pad=0.04)
    fig.tight_layout()
    return fig


def recall_bars(tables: dict, title: str, column: str = "province_char"):
    """Per-label recall of several models side by side (tables from analysis.per_province_accuracy),
    each label's plate count under it: a recall over 3 plates is not one over 500."""
    use_cjk_font()
    first = next(iter(tables.values()))
    labels = list(first.index)
    width = 0.8 / len(tables)
    fig, ax = plt.subplots(figsize=(max(5, 0.55 * len(labels) + 1.5), 3.4))
    for k, (name, t) in enumerate(tables.items()):
        values = t.reindex(labels)[column].to_numpy()
        ax.bar(np.arange(len(labels)) + (k - (len(tables) - 1) / 2) * width, values, width, label=name)
    ax.set_xticks(range(len(labels)), [f"{p}\nn={n}" for p, n in zip(labels, first["plates"])], fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("recall")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    return fig


def confusion_pairs(tables: dict, title: str, top: int = 12):
    """The commonest true → predicted substitutions (analysis.character_confusions), one panel per model."""
    use_cjk_font()
    fig, axes = plt.subplots(1, len(tables), figsize=(4.2 * len(tables), 0.28 * top + 1.2), squeeze=False)
    for ax, (name, t) in zip(axes[0], tables.items()):
        t = t.head(top).iloc[::-1]
        ax.barh([f"{a} → {b}" for a, b in zip(t["true"], t["predicted"])], t["count"], color="#3465a4")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("substitutions")
        if t.empty:
            ax.text(0.5, 0.5, "none", ha="center", va="center", transform=ax.transAxes)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def accuracy_against_slant(tables: dict, title: str = "Exact accuracy against the crop's slant"):
    """One line per (model, data) of analysis.accuracy_by_slant; each point's plate count beside it."""
    fig, ax = plt.subplots(figsize=(6, 3.4))
    for name, t in tables.items():
        (line,) = ax.plot(t["band"].astype(str), t["accuracy"], marker="o", label=name)
        for x, y, n in zip(t["band"].astype(str), t["accuracy"], t["plates"]):
            if n and y == y:
                ax.annotate(
                    f"{n}", (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7, color=line.get_color()
                )
    ax.set_xlabel("|slant| of the upright strokes (numbers: plates in the band)")
    ax.set_ylabel("exact accuracy")
    ax.set_ylim(0, 1.05)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def reliability_diagram(tables: dict, eces: dict, title: str = "Reliability"):
    """Accuracy against mean confidence per confidence bin (analysis.reliability_table), the diagonal
    being perfect calibration; the marker area grows with the reads in the bin."""
    fig, ax = plt.subplots(figsize=(4.6, 4.2))
    ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--", label="calibrated")
    for name, t in tables.items():
        sizes = 15 + 200 * t["n"] / max(1, t["n"].max())
        ax.plot(t["confidence"], t["accuracy"], lw=1)
        ax.scatter(t["confidence"], t["accuracy"], s=sizes, label=f"{name} (ECE {eces[name]:.3f})", alpha=0.7)
    ax.set_xlabel("mean confidence in the bin")
    ax.set_ylabel("exact accuracy in the bin")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_title(title, fontsize=10)
    # Calibrated models sit along the diagonal and at its top right: the legend goes below it.
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    return fig


def crop_histograms(frames: dict):
    """Histograms of slant, brightness and contrast (analysis.crop_statistics), one colour per set."""
    fig, axes = plt.subplots(1, 3, figsize=(13, 3))
    for ax, column, label in zip(
        axes,
        ["slant_deg", "brightness", "contrast"],
        ["slant of the upright strokes (°)", "mean grey (0–255)", "grey s.d. (contrast)"],
    ):
        for name, df in frames.items():
            ax.hist(df[column], bins=30, alpha=0.55, density=True, label=name)
        ax.set_xlabel(label)
        ax.set_yticks([])
    axes[0].legend(fontsize=8)
    fig.suptitle("Crops as the model sees them: real against synthetic (share of each set)", fontsize=10)
    fig.tight_layout()
    return fig


def plate_types_strip(per_type: int = 2, seed: int = 0):
    """Synthetic plates of every type the reader knows, `per_type` of each, captioned type · text."""
    from ..alphabet import PLATE_TYPES
    from ..synth.render import SyntheticPlates

    plates = [
        SyntheticPlates(per_type, seed=seed, type_weights={t: 1.0})[i] for t in PLATE_TYPES for i in range(per_type)
    ]
    return image_grid(
        [img for img, _, _ in plates],
        [f"{kind} · {label}" for _, label, kind in plates],
        ncols=2 * per_type if per_type > 1 else len(plates),
        scale=2.2,
    )


def rejection_curve(table):
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot(table["rejection_rate"], table["accuracy"], marker=".")
    ax.set_xlabel("rejection rate (plates below the confidence threshold)")
    ax.set_ylabel("exact accuracy of the kept plates")
    ax.set_title("Accuracy against rejection")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def real_vs_synthetic(records, synthetic, n: int = 18, seed: int = 0):
    """Two panels: real crops (left) and synthetic plates (right), labels as captions."""
    from ..data.images import load_image

    use_cjk_font()
    rng = np.random.default_rng(seed)
    real = [records[i] for i in sorted(rng.choice(len(records), min(n, len(records)), replace=False))]
    fake = [synthetic[i] for i in range(min(n, len(synthetic)))]
    cols = 3
    rows = -(-n // cols)
    fig, axes = plt.subplots(
        rows,
        2 * cols + 1,
        figsize=(2 * cols * 1.7 + 0.3, rows * 0.75),
        gridspec_kw={"width_ratios": [1] * cols + [0.15] + [1] * cols},
        squeeze=False,
    )
    for ax in axes.ravel():
        ax.axis("off")
    for k, rec in enumerate(real):
        ax = axes[k // cols, k % cols]
        ax.imshow(np.asarray(load_image(rec.path)))
        ax.set_title(rec.label, fontsize=8)
    for k, (img, label, kind) in enumerate(fake):
        ax = axes[k // cols, cols + 1 + k % cols]
        ax.imshow(np.asarray(img))
        ax.set_title(f"{label} · {kind}", fontsize=8)
    axes[0, 1].text(0.5, 1.9, "real", transform=axes[0, 1].transAxes, ha="center", fontsize=11)
    axes[0, cols + 2].text(0.5, 1.9, "synthetic", transform=axes[0, cols + 2].transAxes, ha="center", fontsize=11)
    fig.tight_layout()
    return fig


def error_gallery(df, title: str, n: int = 24, ncols: int = 4):
    """The wrongly read crops with truth, prediction and confidence, the most confident first: those
    are the errors a confidence threshold lets through."""
    from ..data.images import load_image

    wrong = df[~df["correct"] & df["error"].isna()].sort_values("confidence", ascending=False).head(n)
    if wrong.empty:
        fig, ax = plt.subplots(figsize=(4, 1))
        ax.axis("off")
        ax.text(0.5, 0.5, "no errors", ha="center", va="center")
        return fig
    images = [load_image(p) for p in wrong["path"]]
    titles = [f"{t} → {p or '∅'} ({c:.2f})" for t, p, c in zip(wrong["label"], wrong["plate"], wrong["confidence"])]
    return image_grid(
        images, titles, ncols=ncols, scale=2.4, title=f"{title}: truth → reading (confidence), most confident first"
    )
