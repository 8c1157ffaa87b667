"""plateocr: Chinese licence-plate recognition (CRNN + CTC) for CPU and GPU.

>>> from plateocr import PlateReader, SAMPLE_DIR
>>> reader = PlateReader.from_pretrained()
>>> reader.read(SAMPLE_DIR / "苏E7R5Y0.jpg").plate
'苏E7R5Y0'
"""

from pathlib import Path

__version__ = "0.1.0"

# Real crops bundled with the package (Apache-2.0, see its NOTICE.md): the demo and test sample.
SAMPLE_DIR = Path(__file__).parent / "sample_plates"

from .reading.reader import PlateReader, PlateResult  # noqa: E402

__all__ = ["PlateReader", "PlateResult", "SAMPLE_DIR", "__version__"]
