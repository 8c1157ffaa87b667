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
# # 01 · Explore the data
#
# What the recogniser learns from and is judged on: a real data set (by default the real crops
# bundled with the package; point `data_dir` at CCPD2019-dl1, a folder of `LABEL.jpg` crops, a CSV
# manifest or raw CCPD photos) beside the built-in synthetic plates.
#
# Everything computed here lives in `plateocr.research.analysis`; this notebook only shows it. The outputs
# stored in `notebooks/01_explore.ipynb` are the quick run CI checks (the bundled sample of 48 crops);
# the full run on plates_dev is `reports/01_explore.html` (`make reports`).

# %% tags=["parameters"]
data_dir = "sample"          # a data path, or "sample" for the bundled real crops
output_dir = "../runs/notebooks/01_explore"
synthetic_n = 400            # synthetic plates rendered for the comparison
seed = 0

# %%
import time
from pathlib import Path

from IPython.display import Markdown, display

from plateocr.data.datasets import list_records
from plateocr.models.crnn import input_size
from plateocr.research import analysis, plots
from plateocr.synth.render import SyntheticPlates

started = time.time()
figures = Path(output_dir) / "figures"
records, skipped = list_records(data_dir)
synthetic = SyntheticPlates(synthetic_n, seed=seed)
real = analysis.records_frame(records)
fake = analysis.synthetic_frame(synthetic)
print(f"{len(real)} real plates from {Path(str(data_dir)).name} ({skipped.summary()})")
print(f"{len(fake)} synthetic plates (seed {seed})")

# %% [markdown]
# ## Counts, plate types and lengths

# %%
analysis.dataset_overview({"real": real, "synthetic": fake})

# %%
display(Markdown(analysis.conclude_overview(real, fake)))

# %% [markdown]
# ## Provinces
# CCPD is dominated by 皖 (Anhui): a model trained on it alone rarely sees the other 30 provinces.
# The synthetic plates are balanced.

# %%
fig = plots.bar_chart(real["province"].value_counts(), "Provinces in the real data", ylabel="plates")
plots.save(fig, figures / "provinces_real.png");

# %%
fig = plots.bar_chart(fake["province"].value_counts(), "Provinces in the synthetic data", ylabel="plates")
plots.save(fig, figures / "provinces_synthetic.png");

# %%
display(Markdown(analysis.conclude_provinces(real)))

# %% [markdown]
# ## Character frequencies (all positions, real data)

# %%
fig = plots.bar_chart(analysis.character_frequencies(real["label"]), "Character frequencies (real)")
plots.save(fig, figures / "characters_real.png");

# %%
display(Markdown(analysis.conclude_characters(real)))

# %% [markdown]
# ## The crops as the model sees them: slant, brightness, contrast
# Slant is measured as the reader measures it before deskewing (`plateocr.data.deskew.slant`, at the
# model's 32 × 96 input): plates seen from one side look italic, and italic characters share the
# CRNN's 4-pixel columns with their neighbours.

# %%
real_stats = analysis.crop_statistics([r.path for r in records], input_size("wide"))
fake_stats = analysis.crop_statistics([synthetic[i][0] for i in range(len(synthetic))], input_size("wide"))
fig = plots.crop_histograms({"real": real_stats, "synthetic": fake_stats})
plots.save(fig, figures / "crop_statistics.png");

# %%
fig = plots.real_vs_synthetic(records, synthetic, n=18, seed=seed)
plots.save(fig, figures / "real_vs_synthetic.png");

# %%
display(Markdown(analysis.conclude_crops(real_stats, fake_stats)))

# %%
summary = {"real": analysis.dataset_overview({"real": real}).to_dict(),
           "crops": {"real": real_stats.describe().round(2).to_dict(),
                     "synthetic": fake_stats.describe().round(2).to_dict()},
           "provenance": analysis.report_provenance({"data_dir": str(data_dir), "synthetic_n": synthetic_n,
                                                     "seed": seed}, records, started)}
analysis.write_json(summary, Path(output_dir) / "explore.json")
