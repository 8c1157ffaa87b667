"""Training: the one TrainConfig, the loop, torchrun's process group, and run provenance."""
