"""The recognisers (CRNN variants and their ensemble) and their checkpoint files."""
