# ---
# jupyter:
#   jupytext:
#     cell_metadata_filter: tags,-all
#     formats: ipynb,py:percent
#     notebook_metadata_filter: kernelspec,jupytext
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 03 · Error analysis
#
# Where does the recogniser go wrong? The original notebook's errors were mostly the leading
# province character, so that is where we look first: per-province accuracy and the province
# confusion matrix; then character confusions at every position, length errors, a gallery of the
# wrong reads, and how accuracy rises as low-confidence plates are rejected.
#
# The defaults (the shipped model on the bundled sample, which it was fine-tuned on) make a quick
# run; the committed full report (`make reports`) analyses a model that never saw a real plate.

# %% tags=["parameters"]
data_dir = "sample"          # labelled data to analyse; "synthetic" renders held-out plates of every type
output_dir = "../runs/notebooks/03_error_analysis"
checkpoint = None            # None: the pretrained model shipped with plateocr
batch_size = 64
seed = 0
synthetic_n = 600            # plates rendered when data_dir is "synthetic"

# %%
from pathlib import Path

import pandas as pd

from plateocr import PlateReader
from plateocr.research import analysis, plots
from plateocr.scoring.evaluation import evaluate_reader, records_for
from plateocr.synth.render import EVAL_SEED

figures = Path(output_dir) / "figures"
records = records_for(data_dir, Path(output_dir) / "synthetic_eval", synthetic_n, seed + EVAL_SEED)
reader = PlateReader.from_pretrained(checkpoint)
summary, rows = evaluate_reader(reader, records, batch_size)
greedy, _ = evaluate_reader(PlateReader.from_pretrained(checkpoint, decoder="greedy"), records, batch_size)
speed = {"plates_per_s": summary.pop("plates_per_s"), "greedy_plates_per_s": greedy.pop("plates_per_s")}
df = analysis.rows_frame(rows)
print(f"{reader.source}: {len(records)} plates from {data_dir}")

# %% [markdown]
# ## Headline figures: constrained against greedy decoding

# %%
analysis.headline({"constrained": summary, "greedy": greedy})

# %% [markdown]
# ## Per-position accuracy

# %%
per_position = pd.Series(summary["per_position_accuracy"], index=range(1, len(summary["per_position_accuracy"]) + 1))
fig = plots.bar_chart(per_position, "Accuracy by character position", "position", "accuracy")
plots.save(fig, figures / "per_position_accuracy.png")
per_position.round(4).to_frame("accuracy").T

# %% [markdown]
# ## Provinces
# Exact accuracy and province-character accuracy for each true province, then the confusion
# matrix of true against predicted province (∅: no province read).

# %%
analysis.per_province_accuracy(df).round(3)

# %%
fig = plots.confusion_heatmap(analysis.province_confusion(df), "Province confusion")
plots.save(fig, figures / "province_confusion.png")

# %% [markdown]
# ## Character confusions at every position

# %%
analysis.character_confusions(df, top=15)

# %% [markdown]
# ## Length errors and kinds of error

# %%
analysis.length_errors(df)

# %%
analysis.error_kinds(df).to_frame("plates")

# %% [markdown]
# ## Plate types
# Exact accuracy by true plate type and the type head's confusion table.

# %%
pd.Series(summary["accuracy_by_type"]).round(4).to_frame("exact accuracy")

# %%
analysis.type_confusion(df)

# %% [markdown]
# ## Error gallery

# %%
fig = plots.error_gallery(df, n=24)
plots.save(fig, figures / "error_gallery.png")

# %% [markdown]
# ## Accuracy against rejection
# Rejecting the least confident plates trades coverage for accuracy.

# %%
curve = analysis.accuracy_vs_rejection(df)
fig = plots.rejection_curve(curve)
plots.save(fig, figures / "accuracy_vs_rejection.png")

# %%
analysis.write_json({"constrained": summary, "greedy": greedy,
                     "provenance": analysis.report_provenance(
                         {"data_dir": str(data_dir), "checkpoint": str(reader.source), "seed": seed,
                          "batch_size": batch_size, "synthetic_n": synthetic_n}, records) | speed},
                    Path(output_dir) / "metrics.json")
