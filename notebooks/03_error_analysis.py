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
# Where does the recogniser go wrong? Two models side by side, on the same real plates:
#
# - **the shipped model** (whatever `PlateReader.from_pretrained()` loads by default), through its
#   *out-of-fold* readings: `bench/accuracy.py --predictions` trains the shipped recipe on four
#   fifths of the real plates (for the default student, distilled from ensemble members fine-tuned
#   on the same four fifths) and reads the fifth it never saw, five times over. Those readings are
#   committed beside this report (`cv_predictions.csv` and its provenance `cv_predictions.json`).
#   Without that file the shipped model reads `data_dir` itself, which is only a fair test on plates
#   it did not train on (the shipped model was fine-tuned on all of plates_dev but the bundled sample);
# - **a model trained on synthetic plates only** (02's `best.pt`, chosen on held-out synthetic
#   plates, so no real plate picked it): what the synthetic plates do not yet teach.
#
# Then: per-province recall, the province confusion matrix, character confusions, accuracy against
# the crop's slant (slant was the main finding of the error analysis), calibration, and the
# confident errors. The outputs stored in `notebooks/03_error_analysis.ipynb` are the CI quick
# run (02's 2-epoch smoke model reads almost nothing); the full run is
# `reports/03_error_analysis.html` (`make reports`).

# %% tags=["parameters"]
data_dir = "sample"          # real labelled crops, read when there are no out-of-fold readings
predictions = "../reports/03_error_analysis/cv_predictions.csv"   # the shipped recipe's out-of-fold readings; None: none
checkpoint = None            # the shipped model; None: PlateReader.from_pretrained()'s default
synthetic_checkpoint = "../runs/notebooks/02_train/best.pt"      # 02's synthetic-only model; None: left out
output_dir = "../runs/notebooks/03_error_analysis"
batch_size = 64
precision = "float32"        # "float32" reads alike on every CPU; "auto": as readers read by default (the shipped model in int8 on a CPU)
seed = 0
synthetic_n = 200            # held-out synthetic plates rendered for the slant comparison

# %%
import time
from pathlib import Path

import pandas as pd
from IPython.display import Markdown, display

from plateocr import PlateReader
from plateocr.data.datasets import PlateRecord
from plateocr.models.crnn import input_size
from plateocr.research import analysis, plots
from plateocr.scoring.calibration import expected_calibration_error
from plateocr.scoring.evaluation import read_records, records_for
from plateocr.training.provenance import REPO_ROOT, checkpoint_identity

started = time.time()
figures = Path(output_dir) / "figures"
shipped_reader = PlateReader.from_pretrained(checkpoint, precision=precision)
shipped_id = checkpoint_identity(shipped_reader.source)
if predictions and Path(predictions).is_file():
    shipped, oof = analysis.load_predictions(predictions, root=REPO_ROOT)
    records = [PlateRecord(p, label) for p, label in zip(shipped["path"], shipped["label"])]
    shipped_name = f"shipped {shipped_id['arch']}, out-of-fold"
    note = oof["note"]
else:
    records = records_for(data_dir, Path(output_dir) / "real", 0)
    shipped = analysis.rows_frame(read_records(shipped_reader, records, batch_size)[0])
    shipped_name = f"shipped {shipped_id['arch']}"
    oof = None
    note = (f"no out-of-fold readings at {Path(str(predictions)).name}: the shipped model read "
            f"{len(records)} plates of {Path(str(data_dir)).name} itself; a fair test only if it never trained on them")
models = {shipped_name: shipped}
synthetic_reader = None
if synthetic_checkpoint and Path(synthetic_checkpoint).is_file():
    synthetic_reader = PlateReader.from_pretrained(synthetic_checkpoint, precision=precision)
    synthetic_name = f"synthetic-only {synthetic_reader.arch}"
    models[synthetic_name] = analysis.rows_frame(read_records(synthetic_reader, records, batch_size)[0])
else:
    note += f"; no synthetic-only checkpoint at {Path(str(synthetic_checkpoint)).name} (run 02 first)"
display(Markdown(f"**Models.** {shipped_name}: `{Path(shipped_id['checkpoint']).name}`, arch "
                 f"`{shipped_id['arch']}`, sha256 `{shipped_id['sha256'][:12]}`. "
                 + (f"{synthetic_name}: `{Path(synthetic_reader.source).name}`. " if synthetic_reader else "")
                 + f"**Data.** {note}."))

# %% [markdown]
# ## Headline figures

# %%
summaries = {name: analysis.summary_of(df) for name, df in models.items()}
pd.DataFrame(summaries).round(4)

# %%
analysis.readings_table(oof["readings"]) if oof else "no out-of-fold readings: one reading only"

# %%
display(Markdown(analysis.conclude_headline(summaries)))

# %% [markdown]
# ## Provinces
# Recall of the province character for each true province (its plate count under it), then each
# model's confusion matrix: the same provinces in the same order on both axes, so right reads lie on
# the diagonal; colour is the share of the row, numbers are plates (∅: no province read).

# %%
per_province = {name: analysis.per_province_accuracy(df) for name, df in models.items()}
fig = plots.recall_bars(per_province, "Province-character recall by true province")
plots.save(fig, figures / "province_recall.png");

# %%
for k, (name, df) in enumerate(models.items()):
    fig = plots.confusion_heatmap(analysis.province_confusion(df), f"Province confusion: {name} ({len(df)} plates)")
    plots.save(fig, figures / f"province_confusion_{k}.png")

# %%
for name, df in models.items():
    display(Markdown(analysis.conclude_province_errors(df, name)))

# %% [markdown]
# ## Character confusions at every position

# %%
confusions = {name: analysis.character_confusions(df, top=15) for name, df in models.items()}
fig = plots.confusion_pairs(confusions, "Commonest substitutions (true → read), all positions")
plots.save(fig, figures / "character_confusions.png");

# %%
pd.DataFrame({name: analysis.error_kinds(df) for name, df in models.items()}).fillna(0).astype(int)

# %%
for name, df in models.items():
    display(Markdown(analysis.conclude_character_errors(confusions[name], analysis.error_kinds(df), name)))

# %% [markdown]
# ## Accuracy against slant
# The slant of each crop's upright strokes, measured as the reader measures it before deskewing;
# real crops beside held-out synthetic plates of every type (seed 424242, which no training uses).

# %%
synthetic_records = records_for("synthetic", Path(output_dir) / "synthetic_eval", synthetic_n, seed + 424242)
real_slant = analysis.crop_statistics([r.path for r in records], input_size(shipped_id["arch"]))["slant_deg"]
synthetic_slant = analysis.crop_statistics([r.path for r in synthetic_records], input_size(shipped_id["arch"]))["slant_deg"]
slant_tables = {f"{shipped_name} · real": analysis.accuracy_by_slant(real_slant, shipped["correct"])}
shipped_on_synthetic = analysis.rows_frame(read_records(shipped_reader, synthetic_records, batch_size)[0])
slant_tables["shipped · synthetic"] = analysis.accuracy_by_slant(synthetic_slant, shipped_on_synthetic["correct"])
if synthetic_reader:
    slant_tables[f"{synthetic_name} · real"] = analysis.accuracy_by_slant(real_slant, models[synthetic_name]["correct"])
    on_synthetic = analysis.rows_frame(read_records(synthetic_reader, synthetic_records, batch_size)[0])
    slant_tables[f"{synthetic_name} · synthetic"] = analysis.accuracy_by_slant(synthetic_slant, on_synthetic["correct"])
fig = plots.accuracy_against_slant(slant_tables)
plots.save(fig, figures / "accuracy_vs_slant.png");

# %%
display(Markdown(analysis.conclude_slant(slant_tables)))

# %% [markdown]
# ## Calibration
# Does a confidence of 0.9 mean 9 plates in 10 right? Reads binned by confidence; the diagonal is
# perfect calibration. The out-of-fold readings carry the calibrated confidence (a temperature, then
# a map of the plate's log-odds: `plateocr.scoring.calibration`) where the predictions file has it,
# fitted on these same reads; `bench/accuracy.py` reports the cross-fitted error.

# %%
reliability = {name: analysis.reliability_table(df["confidence"], df["correct"]) for name, df in models.items()}
eces = {name: expected_calibration_error(df["confidence"].tolist(), df["correct"].tolist()) for name, df in models.items()}
fig = plots.reliability_diagram(reliability, eces, f"Reliability on {len(records)} real plates")
plots.save(fig, figures / "reliability.png");

# %%
display(Markdown(analysis.conclude_calibration(models, eces)))

# %% [markdown]
# ## Error gallery: the confident errors first
# Low-confidence errors are rejected by a threshold anyway; the confident ones are what a user meets.

# %%
fig = plots.error_gallery(shipped, shipped_name, n=24)
plots.save(fig, figures / "error_gallery.png");

# %%
display(Markdown(analysis.conclude_gallery(shipped, shipped_name)))

# %% tags=["nbval-ignore-output"]
readers = {"shipped": shipped_reader} | ({"synthetic_only": synthetic_reader} if synthetic_reader else {})
analysis.write_json({"models": summaries, "ece": eces,
                     "slant": {k: t.to_dict("records") for k, t in slant_tables.items()},
                     "out_of_fold": {k: v for k, v in (oof or {}).items() if k != "note"} or None, "note": note,
                     "provenance": analysis.report_provenance(
                         {"data_dir": str(data_dir), "predictions": str(predictions), "checkpoint": str(checkpoint),
                          "synthetic_checkpoint": str(synthetic_checkpoint), "seed": seed,
                          "batch_size": batch_size, "synthetic_n": synthetic_n}, records, started, readers)},
                    Path(output_dir) / "metrics.json")
print(f"wall time {time.time() - started:.0f} s")
