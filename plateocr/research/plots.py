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


def save(fig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return path


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
    """A count table as a heatmap with its numbers written in (Chinese tick labels render)."""
    use_cjk_font()
    values = table.to_numpy()
    fig, ax = plt.subplots(figsize=(max(4, 0.45 * values.shape[1] + 2), max(3, 0.4 * values.shape[0] + 1.5)))
    im = ax.imshow(np.log1p(values), cmap="Blues", aspect="auto")
    ax.set_xticks(range(values.shape[1]), [str(c) for c in table.columns])
    ax.set_yticks(range(values.shape[0]), [str(i) for i in table.index])
    for (i, j), v in np.ndenumerate(values):
        if v:
            ax.text(
                j,
                i,
                str(v),
                ha="center",
                va="center",
                fontsize=8,
                color="white" if np.log1p(v) > np.log1p(values.max()) * 0.6 else "black",
            )
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    fig.colorbar(im, ax=ax, label="log(1 + plates)")
    fig.tight_layout()
    return fig


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


def error_gallery(df, n: int = 24, ncols: int = 4):
    """The wrongly read crops with truth, prediction and confidence (least confident first)."""
    from ..data.images import load_image

    wrong = df[~df["correct"] & df["error"].isna()].sort_values("confidence").head(n)
    if wrong.empty:
        fig, ax = plt.subplots(figsize=(4, 1))
        ax.axis("off")
        ax.text(0.5, 0.5, "no errors", ha="center", va="center")
        return fig
    images = [load_image(p) for p in wrong["path"]]
    titles = [f"{t} → {p or '∅'} ({c:.2f})" for t, p, c in zip(wrong["label"], wrong["plate"], wrong["confidence"])]
    return image_grid(images, titles, ncols=ncols, title="Wrong reads: truth → prediction (confidence)", scale=2.4)
