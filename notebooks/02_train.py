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
# # 02 · Train a plate recogniser
#
# One training run with the parameters below: the same `plateocr.training.loop` that
# `python -m plateocr train` runs. By default it trains the wide CRNN on synthetic plates only
# and validates on real crops, which measures how well the synthetic plates transfer to real ones.
# It writes `best.pt`, `last.pt` and `metrics.json` (with provenance) to `output_dir`.

# %% tags=["parameters"]
data_dir = "synthetic"       # "synthetic", "sample", or a data path (see the README's layouts)
val_dir = "sample"           # validation data; None splits 10 % off data_dir
output_dir = "../runs/notebooks/02_train"
checkpoint = None            # start from these weights (fine-tuning); None trains from scratch
arch = "wide"                # "wide" (the shipped model's), "sharp", "compact" or "seed"
epochs = 2
batch_size = 64
seed = 0
synthetic_train = 1500       # synthetic plates per epoch
mix_synthetic = 0            # synthetic plates added to each epoch of real data
cache = False                # render/decode the training set once and keep it in RAM
lr = 1e-3
lr_schedule = "plateau"      # "plateau" (on validation accuracy) or "cosine"
ema_decay = 0.0              # validate and save a moving average of the weights (e.g. 0.999); 0: off
amp = False                  # bf16 mixed precision (CUDA, or a CPU with bf16 units: ~1.5x faster steps)
channels_last = False        # NHWC convolutions (~1.2x faster steps on a CPU)
threads = 2                  # torch CPU threads (0: all cores)
# Papermill may set any other TrainConfig field by its name (`python -m plateocr train --help`).
overwrite = True             # this notebook's output_dir is its own: replace an earlier run

# %%
from pathlib import Path

import pandas as pd

from plateocr.research import plots
from plateocr.training.config import TrainConfig
from plateocr.training.loop import train

# Every parameter named like a TrainConfig field is one; the four paths have the notebooks' names.
config = TrainConfig.from_namespace(globals(), data=data_dir, val=val_dir, out=output_dir,
                                    init_checkpoint=checkpoint)
result = train(config, overwrite=overwrite, progress=False)

# %% [markdown]
# ## Training curves

# %%
fig = plots.training_curves(result["history"])
plots.save(fig, Path(output_dir) / "figures" / "training_curves.png")

# %% [markdown]
# ## Per epoch
# Validation figures use the plate-grammar-constrained decoder.

# %%
pd.DataFrame(result["history"]).set_index("epoch").round(4)

# %% [markdown]
# ## Result
# The best checkpoint (by validation exact-plate accuracy) is what 03 analyses.

# %% tags=["nbval-ignore-output"]
print(f"best validation exact accuracy {result['best_val_accuracy']:.4f}; checkpoint {result['checkpoint']}")
print(f"wall time {result['provenance']['wall_time_s']} s on {result['provenance']['device']}")
