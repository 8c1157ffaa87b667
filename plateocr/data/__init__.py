"""Data: image decoding, crops (CCPD, deskew), datasets and their layouts, batch augmentation."""
