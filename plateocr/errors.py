"""Errors that are the user's to fix: the CLI prints them as one line, without a traceback."""


class PlateOCRError(Exception):
    """A problem with the user's input, data, checkpoint or parameters."""


class ImageError(PlateOCRError):
    """An image file that cannot be read as a plate crop."""


class CheckpointError(PlateOCRError):
    """A file that is not a usable plateocr checkpoint."""
