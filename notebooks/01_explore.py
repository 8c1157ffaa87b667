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
# Everything computed here lives in `plateocr.research.analysis`; this notebook only shows it.

# %% tags=["parameters"]
data_dir = "sample"          # a data path, or "sample" for the bundled real crops
output_dir = "../runs/notebooks/01_explore"
synthetic_n = 400            # synthetic plates rendered for the comparison
seed = 0

# %%
from pathlib import Path

from plateocr.research import analysis, plots
from plateocr.data.datasets import list_records
from plateocr.training.provenance import files_fingerprint, provenance
from plateocr.synth.render import SyntheticPlates

figures = Path(output_dir) / "figures"
records, skipped = list_records(data_dir)
synthetic = SyntheticPlates(synthetic_n, seed=seed)
real = analysis.records_frame(records)
fake = analysis.synthetic_frame(synthetic)
print(f"{len(real)} real plates from {data_dir} ({skipped.summary()})")
print(f"{len(fake)} synthetic plates (seed {seed})")

# %% [markdown]
# ## Counts, plate types and lengths

# %%
analysis.dataset_overview({"real": real, "synthetic": fake})

# %% [markdown]
# ## Provinces
# CCPD is dominated by 皖 (Anhui): a model trained on it alone rarely sees the other 30 provinces,
# which is where the original notebook made most of its errors. The synthetic plates are balanced.

# %%
fig = plots.bar_chart(real["province"].value_counts(), "Provinces in the real data", ylabel="plates")
plots.save(fig, figures / "provinces_real.png")

# %%
fig = plots.bar_chart(fake["province"].value_counts(), "Provinces in the synthetic data", ylabel="plates")
plots.save(fig, figures / "provinces_synthetic.png")

# %% [markdown]
# ## Character frequencies (all positions, real data)

# %%
fig = plots.bar_chart(analysis.character_frequencies(real["label"]), "Character frequencies (real)")
plots.save(fig, figures / "characters_real.png")

# %% [markdown]
# ## Image sizes

# %%
sizes = analysis.image_sizes(records)
fig = plots.histogram(sizes["width"] / sizes["height"], "Aspect ratio of the real crops", "width / height")
plots.save(fig, figures / "aspect_real.png")
sizes.describe().round(1)

# %% [markdown]
# ## Real and synthetic plates side by side

# %%
fig = plots.real_vs_synthetic(records, synthetic, n=18, seed=seed)
plots.save(fig, figures / "real_vs_synthetic.png")

# %%
summary = {"real": analysis.dataset_overview({"real": real}).to_dict(),
           "provenance": provenance({"data_dir": str(data_dir), "synthetic_n": synthetic_n, "seed": seed},
                                    files_fingerprint(r.path for r in records))}
analysis.write_json(summary, Path(output_dir) / "explore.json")
