"""PlateReader: the one way to read plates — pre-processing, batching, model and decoding.

The CLI, evaluation, notebooks, benchmarks and the ONNX checks all read plates through it.

>>> from plateocr import SAMPLE_DIR
>>> reader = PlateReader.from_pretrained()                    # the shipped model
>>> result = reader.read(SAMPLE_DIR / "浙D911SY.jpg")
>>> result.plate, result.plate_type
('浙D911SY', 'blue')
>>> [r.plate for r in reader.read([SAMPLE_DIR / "苏E7R5Y0.jpg", SAMPLE_DIR / "豫DYA080.jpg"])]
['苏E7R5Y0', '豫DYA080']
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..alphabet import PLATE_TYPES, Tokenizer, is_valid_plate
from ..data.ccpd import crop_plate
from ..data.compiled import kernels
from ..data.deskew import deskew_prepared, load_cpu_kernel
from ..data.images import load_image, prepare_layouts
from ..errors import CheckpointError, ImageError, PlateOCRError
from ..models.checkpoint import load_checkpoint, trained_deskewed
from ..models.crnn import arch_members, build_model, input_size
from ..models.fusion import fold_batch_norms
from ..scoring.calibration import IDENTITY_MAP, map_confidences
from .decoding import decode_constrained, decode_greedy
from .devices import reading_dtype
from .graph import OnnxModel, ReadingGraph

WEIGHTS = Path(__file__).parents[1] / "weights"
# The shipped models by name: the fast single-view student and the accurate ensemble it learnt from.
# The student is the default: it reads the real plates of a cross-validation as well as the
# ensemble, once per plate instead of eight model passes.
MODELS = {"fast": WEIGHTS / "fast.pt", "accurate": WEIGHTS / "wide_sharp.pt"}
# Their int8 exports (`plateocr export --int8` of the checkpoint), which a CPU reads by default: on
# 2 cores of an AVX2 CPU the fast model read 1.3x the plates a second of float32 torch at batch 64
# and a single plate in 0.5-0.75 of its time, and plates_dev crops in every colour and perturbation
# as float32 does (bench/int8.py). `precision="float32"` reads the checkpoint with torch.
INT8_EXPORTS = {"fast": WEIGHTS / "fast.int8.onnx"}
# How a reader may run its model: "auto" is the int8 export on a CPU where the model ships one, else
# the checkpoint with torch (bf16 convolutions where the hardware has bf16 units, else float32).
READER_PRECISIONS = ("auto", "float32", "int8")
DEFAULT_MODEL = "fast"
DEFAULT_CHECKPOINT = MODELS[DEFAULT_MODEL]
ACCURATE_CHECKPOINT = MODELS["accurate"]
DECODERS = ("constrained", "greedy")
# What from_pretrained and the CLI read with: 0.55 pp more plates than one view, cross-validated
# (see plateocr.reading.tta). A PlateReader built directly (training's validation) reads once.
DEFAULT_TTA = "phase"


@dataclass(frozen=True)
class PlateResult:
    """One read plate. `valid` says whether `plate` follows the plate grammar: the constrained
    decoder returns the best valid plate, or, when none can be formed, the greedy read marked
    `valid=False` (as are all unreadable images and greedy reads that break the grammar)."""

    plate: str
    confidence: float
    plate_type: str
    path: str | None = None
    error: str | None = None  # set when the image could not be read (plate is then "")
    valid: bool = False

    def __repr__(self) -> str:
        where = f", path={self.path!r}" if self.path else ""
        if self.error:
            return f"PlateResult(error={self.error!r}{where})"
        return (
            f"PlateResult(plate={self.plate!r}, confidence={self.confidence:.3f}, "
            f"plate_type={self.plate_type!r}, valid={self.valid}{where})"
        )


def to_pil(x) -> Image.Image:
    """A PIL image from a path, PIL image, H×W(×3/4) uint8 array or C×H×W tensor."""
    if isinstance(x, (str, Path)):
        return load_image(x)
    if isinstance(x, Image.Image):
        return x
    if isinstance(x, torch.Tensor):
        t = x.detach().cpu()
        if t.ndim != 3 or t.shape[0] not in (1, 3, 4):
            raise PlateOCRError(f"a tensor crop must be C×H×W with 1, 3 or 4 channels, got {tuple(t.shape)}")
        if t.is_floating_point():
            t = (t.clamp(0, 1) * 255).round()
        x = t.to(torch.uint8).permute(1, 2, 0).numpy()
        x = x[..., 0] if x.shape[2] == 1 else x
    if isinstance(x, np.ndarray):
        if x.dtype != np.uint8 or x.ndim not in (2, 3) or (x.ndim == 3 and x.shape[2] not in (3, 4)):
            raise PlateOCRError(f"an array crop must be uint8 H×W or H×W×3 (RGB), got {x.dtype} {x.shape}")
        return Image.fromarray(np.ascontiguousarray(x))
    raise PlateOCRError(
        f"cannot read a plate from {type(x).__name__}: give a path, PIL image, "
        f"numpy array or torch tensor (or a list of them)"
    )


class PlateReader:
    """Reads plate crops with a trained model (torch checkpoint or ONNX file)."""

    def __init__(
        self,
        model,
        tokenizer: Tokenizer,
        arch: str,
        decoder: str = "constrained",
        device: str = "cpu",
        onnx_session=None,
        source: str = "",
        tta: str = "none",
        deskew: bool = False,
        temperature: float = 1.0,
        precision: str = "auto",
        rectify: bool = True,
        confidence_map: tuple[float, float] = IDENTITY_MAP,
    ):
        if decoder not in DECODERS:
            raise PlateOCRError(f"unknown decoder {decoder!r}: choose one of {', '.join(DECODERS)}")
        self.model, self.tokenizer, self.arch = model, tokenizer, arch
        self.input_size = input_size(arch)
        self.decoder, self.device = decoder, torch.device(device)
        self.onnx_session, self.source = onnx_session, source
        # Batches go in the memory layout of the model's convolutions (NHWC after from_checkpoint on a CPU).
        first_conv = next((m for m in model.modules() if isinstance(m, torch.nn.Conv2d)), None)
        nhwc = first_conv is not None and first_conv.weight.is_contiguous(memory_format=torch.channels_last)
        self.memory_format = torch.channels_last if nhwc else torch.contiguous_format
        # The calibration fitted for this model (plateocr.scoring.calibration): a temperature, then a
        # map of the plate's log-odds. They change confidences, never readings.
        self.temperature = temperature
        self.confidence_map = (float(confidence_map[0]), float(confidence_map[1]))
        # bf16 convolutions where the hardware has bf16 units (devices.reading_dtype); an ONNX
        # session runs in the precision it was exported in.
        self.autocast_dtype = reading_dtype(self.device, precision)
        # Deskewing, views and the model's precision live in the graph alone; the reader shows them.
        self.graph = ReadingGraph(model, deskew, tta, self.autocast_dtype, self.memory_format)
        # Find the plate inside a loose or turned box before reading it (plateocr.data.rectify): a
        # step of the crop's preparation, so read_prepared's callers do their own.
        self.rectify = rectify

    @property
    def tta(self) -> str:
        return self.graph.tta

    @property
    def deskew(self) -> bool:
        return self.graph.deskew

    @property
    def precision(self) -> str:
        """The precision its convolutions run in: "bfloat16", "float32" or, for an int8 ONNX export, "int8"."""
        if self.onnx_session is not None:
            return self.onnx_session.get_modelmeta().custom_metadata_map.get("plateocr_precision", "float32")
        return str(self.autocast_dtype or torch.float32).removeprefix("torch.")

    @classmethod
    def from_checkpoint(
        cls,
        payload: dict,
        decoder: str = "constrained",
        device: str = "cpu",
        source: str = "",
        tta: str | None = None,
        deskew: bool | None = None,
        precision: str = "auto",
        rectify: bool = True,
    ) -> PlateReader:
        """`deskew` None: take the slant out of crops if the model was trained on deskewed ones.
        `precision` "auto" reads in bf16 on hardware with bf16 units, "float32" always in float32.
        `rectify`: find the plate inside each box, turned level and cut tight, before reading it."""
        tokenizer = Tokenizer(payload["alphabet"])
        model = build_model(payload["arch"], tokenizer.num_classes)
        try:
            model.load_state_dict(payload["model"])
        except RuntimeError as exc:
            raise CheckpointError(
                f"{source or 'checkpoint'}: its weights do not fit the {payload['arch']} "
                f"arch of this plateocr ({str(exc).splitlines()[0][:120]})"
            ) from None
        # A reader never trains its model: BatchNorms folded into their convs read the same, faster.
        fold_batch_norms(model).to(device)
        if torch.device(device).type == "cpu":
            # NHWC convolutions: ~1.3x the plates per second of NCHW on a CPU, same readings.
            model.to(memory_format=torch.channels_last)
        return cls(
            model,
            tokenizer,
            payload["arch"],
            decoder,
            device,
            source=source,
            tta=payload.get("tta", DEFAULT_TTA) if tta is None else tta,
            temperature=float(payload.get("temperature", 1.0)),
            confidence_map=tuple(payload.get("confidence_map", IDENTITY_MAP)),
            deskew=trained_deskewed(payload) if deskew is None else deskew,
            precision=precision,
            rectify=rectify,
        )

    @classmethod
    def from_pretrained(
        cls,
        path: str | Path | None = None,
        decoder: str = "constrained",
        device: str = "cpu",
        tta: str | None = None,
        deskew: bool | None = None,
        onnx_threads: int = 0,
        precision: str = "auto",
        rectify: bool = True,
    ) -> PlateReader:
        """Load a shipped model by name ("fast", "accurate"; None: the default), a checkpoint (.pt) or
        an exported ONNX file (.onnx). Crops are deskewed (plateocr.data.deskew) as the model's were in
        training, and read in as many views as its checkpoint says, unless `deskew`/`tta` say otherwise.
        `precision` (READER_PRECISIONS): on a CPU, "auto" reads a shipped model through its int8
        export where it ships one (INT8_EXPORTS); a checkpoint's convolutions run in bf16 where the
        hardware has bf16 units unless `precision` is "float32". An ONNX file runs as it was
        exported, on `onnx_threads` CPU threads (0: as many as torch uses).
        Each box's plate is turned level and cut tight before it is read, unless `rectify` is False."""
        if precision not in READER_PRECISIONS:
            raise PlateOCRError(f"unknown precision {precision!r}: choose one of {', '.join(READER_PRECISIONS)}")
        name = str(path) if path else DEFAULT_MODEL
        if name.lower().endswith(".onnx"):
            return cls.from_onnx(name, decoder, threads=onnx_threads, tta=tta, deskew=deskew, rectify=rectify)
        int8 = INT8_EXPORTS.get(name)
        if precision == "int8" or (precision == "auto" and torch.device(device).type == "cpu" and int8 is not None):
            if torch.device(device).type != "cpu":
                raise PlateOCRError(f"int8 reading runs on the CPU, not {device}: use --precision auto or float32")
            if int8 is None:
                raise PlateOCRError(
                    f"no int8 export ships for {name}: write one with `plateocr export --int8` and read that .onnx file"
                )
            if not int8.is_file():
                raise CheckpointError(f"the int8 export of {name} is missing at {int8}; use --precision float32")
            return cls.from_onnx(int8, decoder, threads=onnx_threads, tta=tta, deskew=deskew, rectify=rectify)
        path = MODELS.get(name, Path(name))
        if not path.is_file() and path in MODELS.values():
            raise CheckpointError(f"no pretrained checkpoint is shipped at {path}; pass --checkpoint")
        payload = load_checkpoint(path, map_location=device)
        return cls.from_checkpoint(payload, decoder, device, str(path), tta, deskew, precision, rectify)

    @classmethod
    def from_onnx(
        cls,
        path: str | Path,
        decoder: str = "constrained",
        threads: int = 0,
        tta: str | None = None,
        deskew: bool | None = None,
        rectify: bool = True,
    ) -> PlateReader:
        """A reader backed by an onnxruntime session over a file `plateocr export` wrote, running on
        `threads` CPU threads (0: as many as torch uses); the count is fixed when the session is created."""
        path = Path(path)
        if not path.is_file():
            raise CheckpointError(f"ONNX file {path} does not exist")
        session = _onnx_session(path, threads or torch.get_num_threads())
        meta = session.get_modelmeta().custom_metadata_map
        if "plateocr_arch" not in meta:
            raise PlateOCRError(f"{path} was not exported by plateocr (no plateocr metadata)")
        arch_members(meta["plateocr_arch"])  # an arch this plateocr does not know: one clear line
        return cls(
            OnnxModel(session),
            Tokenizer(meta["plateocr_alphabet"]),
            meta["plateocr_arch"],
            decoder,
            onnx_session=session,
            source=str(path),
            tta=meta.get("plateocr_tta", "none") if tta is None else tta,
            deskew=json.loads(meta.get("plateocr_deskew", "false")) if deskew is None else deskew,
            temperature=float(meta.get("plateocr_temperature", "1.0")),
            confidence_map=tuple(json.loads(meta.get("plateocr_confidence_map", json.dumps(IDENTITY_MAP)))),
            precision="float32",
            rectify=rectify,
        )

    # -- model and decoding -------------------------------------------------------------
    def forward(self, images: torch.Tensor, deskewed: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """(T, B, C) log-probabilities and (B, K) type logits for a uint8 batch (B, 3, H, W);
        with test-time augmentation, their average over the views. Crops are deskewed here, as one
        batch, when the model was trained on deskewed crops and they are not `deskewed` already
        (`graph.ReadingGraph`, around the torch model or the onnxruntime session alike)."""
        with torch.inference_mode():
            log_probs, type_logits = self.graph(images.to(self.device), deskewed)
        return log_probs.cpu(), type_logits.cpu()

    def decode(self, log_probs: torch.Tensor, type_logits: torch.Tensor, paths=None) -> list[PlateResult]:
        decode = decode_constrained if self.decoder == "constrained" else decode_greedy
        texts = decode(log_probs, self.tokenizer, self.temperature)
        confidences = map_confidences([c for _, c in texts], self.confidence_map)
        types = type_logits.argmax(-1).tolist()
        paths = paths or [None] * len(texts)
        return [
            PlateResult(t, c, PLATE_TYPES[k], p, valid=is_valid_plate(t))
            for (t, _), c, k, p in zip(texts, confidences, types, paths)
        ]

    def read_prepared(self, crops: np.ndarray | torch.Tensor, paths=None) -> list[PlateResult]:
        """Read a batch of crops already prepared by `images.prepare_crop` (B×H×W×3 uint8), not
        deskewed: the reader deskews them if its model needs it."""
        return self._read_prepared(crops, paths)[0]

    def _read_prepared(
        self, crops: np.ndarray | torch.Tensor, paths=None, deskewed: bool = False
    ) -> tuple[list[PlateResult], torch.Tensor]:
        """`read_prepared`, and the (T, B, C) log-probabilities the results were decoded from;
        `deskewed`: the crops went through `deskew_prepared` already."""
        batch = torch.as_tensor(crops)
        if batch.ndim != 4 or tuple(batch.shape[1:3]) != self.input_size:
            raise PlateOCRError(f"prepared crops must be B×{self.input_size[0]}×{self.input_size[1]}×3")
        with _one_torch_thread(self.onnx_session is not None):
            # A strided view: deskewing or the model's input makes the one copy needed.
            log_probs, type_logits = self.forward(batch.permute(0, 3, 1, 2), deskewed)
            return self.decode(log_probs, type_logits, paths), log_probs

    # -- user-facing --------------------------------------------------------------------
    def read(self, x, batch_size: int = 64):
        """Read one crop (path, PIL image, numpy array, tensor) or a list of them (in order)."""
        if isinstance(x, (list, tuple)):
            out: list[PlateResult] = []
            for start in range(0, len(x), batch_size):
                out += self.read_with_posteriors(x[start : start + batch_size])[0]
            return out
        return self.read([x])[0]

    def read_layouts(self, layouts: list[list[np.ndarray]], paths: list) -> list[PlateResult]:
        """One result per plate from its crop prepared in each layout it may hold
        (`images.prepare_layouts`): the valid, then the more confident, reading."""
        return self._read_layouts(_LayoutBatch.of(layouts), paths)[0]

    def _read_layouts(self, batch: _LayoutBatch, paths: list) -> tuple[list[PlateResult], torch.Tensor]:
        """`read_layouts`, and the (T, B, C) log-probabilities each result was decoded from."""
        results, log_probs = self._read_prepared(batch.crops, deskewed=batch.deskewed)
        chosen, first = [], 0
        for count in batch.layouts_per_plate:
            candidates = range(first, first + count)
            chosen.append(max(candidates, key=lambda i: (results[i].valid, results[i].confidence)))
            first += count
        return [replace(results[i], path=path) for i, path in zip(chosen, paths)], log_probs[:, chosen]

    def read_with_posteriors(self, images: list | tuple) -> tuple[list[PlateResult], torch.Tensor]:
        """Read crops as `read` does (in one batch), and return the (T, B, C) frame log-probabilities
        (views averaged) each reading was decoded from: what a confidence calibration is fitted on."""
        layouts = [prepare_layouts(to_pil(item), self.input_size, self.rectify) for item in images]
        return self._read_layouts(
            _LayoutBatch.of(layouts), [str(i) if isinstance(i, (str, Path)) else None for i in images]
        )

    def read_files(
        self, paths: Iterable[str | Path], batch_size: int = 64, workers: int = 0, vertices=None
    ) -> Iterator[PlateResult]:
        """Read image files in order, decoding and preparing them in `workers` processes
        (`default_workers` picks a count for a CPU); unreadable files give a result with `.error`
        set instead of stopping the run.

        While workers prepare the next batches, the model on the CPU (torch, or an onnxruntime
        session) reads with one thread fewer per worker: the model and the preparation then run side
        by side on their own cores. There the workers also deskew each batch they prepare, off the
        model's process (the int8 `fast` model, 3,000 files, two workers: 963 files/s against 883
        with the model's process deskewing, medians of four runs).

        `vertices`, one per file: None for a crop, or a full photo's plate corners (CCPD order:
        bottom-right, bottom-left, top-left, top-right), warped to an upright crop before reading.
        """
        from torch.utils.data import DataLoader

        files = [str(p) for p in paths]
        vertices = list(vertices) if vertices is not None else [None] * len(files)
        if len(vertices) != len(files):
            raise PlateOCRError(f"{len(files)} files but {len(vertices)} sets of vertices")
        shares_cpu = workers > 0 and self.device.type == "cpu"
        loader = DataLoader(
            _PreparedFiles(files, self.input_size, vertices, self.rectify),
            batch_size=batch_size,
            num_workers=workers,
            collate_fn=_CollatePrepared(deskew=self.deskew and shares_cpu),
        )
        threads = max(1, torch.get_num_threads() - workers) if shares_cpu else torch.get_num_threads()
        with self._onnx_session_threads(fewer=workers if shares_cpu else 0):
            for batch, batch_paths, errors in loader:
                read = [p for p, e in zip(batch_paths, errors) if e is None]
                with _torch_threads(threads):
                    results = iter(self._read_layouts(batch, read)[0] if read else [])
                for p, e in zip(batch_paths, errors):
                    yield next(results) if e is None else PlateResult("", 0.0, "", p, e)

    @contextmanager
    def _onnx_session_threads(self, fewer: int):
        """An ONNX reader's session swapped, for the block, for one on `fewer` threads fewer (at least
        one; onnxruntime fixes a session's threads when it creates it); a torch reader's block, or one
        with no fewer threads, runs as it is."""
        threads = self.onnx_session.get_session_options().intra_op_num_threads if self.onnx_session else 0
        if self.onnx_session is None or max(1, threads - fewer) == threads:
            yield
            return
        model, before = self.graph.model, self.graph.model.session
        model.session = _onnx_session(Path(self.source), max(1, threads - fewer))
        try:
            yield
        finally:
            model.session = before


def _onnx_session(path: Path, threads: int):
    """An onnxruntime CPU session over `path` on `threads` intra-op threads; a file onnxruntime cannot
    load is a one-line CheckpointError."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise CheckpointError(f"{path} is not a loadable ONNX model ({str(exc).splitlines()[0][:160]})") from None


# Preparing's share of a plate's CPU time beside the int8 model: decoding the JPEG, finding the plate
# and deskewing took about 0.9 core-ms a crop, the model and decoding about 0.85 (2 cores, AVX2).
# There no, one, two and three workers read 595, 878, 860 and 843 files/s (medians of four runs of
# 3,000 files, each round moving by a third with the machine's load).
PREPARING_SHARE = 0.6


def default_workers(reader: PlateReader, files: int, batch_size: int = 64) -> int:
    """Processes that should prepare `files` image files while `reader` reads them: none for a
    batch or less (starting a process costs more than it saves). Beside a GPU, half the CPU's
    cores. On a CPU the workers take their cores from the model, which pays only where preparing
    a crop costs about as much as reading it: the plate is found inside each box and the model
    reads each plate once. Then half the cores for a torch model; for an onnxruntime session,
    whose idle threads do not spin, PREPARING_SHARE of them rounded up (2 of 2), beside a session of
    the cores left (at least one thread).

    On a 2-core CPU (`bench/speed.py` and one-off runs, end to end) the shipped `fast` reader read
    1.4-1.6 times the plates a second with one worker beside a one-thread torch model (two workers
    read less); its int8 export read 1.5 times with one worker beside one onnxruntime thread and
    1.1 times more with two. Boxes read as they are and the four-view ensemble gained nothing or lost.
    """
    cores = os.cpu_count() or 1
    if cores < 2 or files <= batch_size:
        return 0
    if reader.device.type != "cpu":
        return cores // 2
    if not (reader.rectify and reader.tta == "none"):
        return 0
    return math.ceil(PREPARING_SHARE * cores) if reader.onnx_session is not None else cores // 2


@contextmanager
def _torch_threads(threads: int):
    """torch's CPU threads set to `threads` for the block, then restored."""
    before = torch.get_num_threads()
    if threads == before:
        yield
        return
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextmanager
def _one_torch_thread(active: bool):
    """While onnxruntime reads, torch's own steps (decoding) run on one thread: torch's
    idle threads spin-wait on the cores onnxruntime's threads need (measured: 1.7x slower batches,
    3.7x slower single plates with two threads each on 2 cores)."""
    with _torch_threads(1 if active else torch.get_num_threads()):
        yield


class _PreparedFiles(torch.utils.data.Dataset):
    def __init__(self, files: list[str], input_size, vertices: list, rectify: bool):
        self.files, self.input_size, self.vertices, self.rectify = files, input_size, vertices, rectify
        if rectify:  # built before the workers start: they inherit the tilt search's kernel
            kernels("rectify_cpu")

    def __len__(self):
        return len(self.files)

    def __getitem__(self, i):
        corners = self.vertices[i]
        try:
            # A full photo is loaded whole (the plate is a small part of it), a crop at about input size.
            image = load_image(self.files[i], None if corners else self.input_size)
            if corners:
                image = crop_plate(image, corners)
            # A plate warped along its corners is already level and tight.
            return prepare_layouts(image, self.input_size, self.rectify and not corners), self.files[i], None
        except ImageError as exc:
            return None, self.files[i], str(exc)
        except ValueError as exc:  # corners that enclose no plate (three on a line)
            return None, self.files[i], f"{self.files[i]}: {exc}"


@dataclass(frozen=True)
class _LayoutBatch:
    """Plates prepared in each layout they may hold, stacked: `crops` (N, H, W, 3) uint8, the
    layouts of each plate in turn (`layouts_per_plate` of them), `deskewed` already or not."""

    crops: np.ndarray | torch.Tensor
    layouts_per_plate: tuple[int, ...]
    deskewed: bool = False

    @classmethod
    def of(cls, layouts: list[list[np.ndarray]], deskew: bool = False) -> _LayoutBatch:
        crops = np.stack([crop for crops in layouts for crop in crops])
        return cls(deskew_prepared(crops) if deskew else crops, tuple(map(len, layouts)), deskew)


class _CollatePrepared:
    """A DataLoader batch of `_PreparedFiles` items: the readable ones as one `_LayoutBatch`
    (deskewed with `deskew`), every item's path and error."""

    def __init__(self, deskew: bool):
        self.deskew = deskew
        if deskew:  # built before the workers start: they inherit the kernel instead of each loading it
            load_cpu_kernel()

    def __call__(self, items):
        layouts = [c for c, _, e in items if e is None]
        batch = _LayoutBatch.of(layouts, self.deskew) if layouts else None
        return batch, [p for _, p, _ in items], [e for _, _, e in items]
