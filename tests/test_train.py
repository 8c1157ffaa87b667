"""Training: the loss falls, checkpoints load, --resume is exact, runs are never overwritten."""

import json
import os
import shutil
import subprocess
import sys
from contextlib import nullcontext
from pathlib import Path

import pytest
import torch

from plateocr import SAMPLE_DIR
from plateocr.alphabet import PLATE_TYPES, Tokenizer
from plateocr.data.datasets import make_collate
from plateocr.data.images import load_image, prepare_crop
from plateocr.data.recolour import RECOLOURED, recolour_blue_plates
from plateocr.data.transforms import BatchAugment
from plateocr.errors import PlateOCRError
from plateocr.models.checkpoint import join_checkpoints, load_checkpoint, save_checkpoint
from plateocr.models.crnn import build_model
from plateocr.reading.devices import cpu_has_bf16
from plateocr.reading.reader import PlateReader
from plateocr.training.config import TrainConfig
from plateocr.training.distributed import Distributed
from plateocr.training.loop import ctc_and_type_loss, train
from tests.conftest import REPO


def test_a_short_run_lowers_the_loss_and_writes_a_usable_checkpoint(tiny_run):
    out, result = tiny_run
    losses = [h["train_loss"] for h in result["history"]]
    assert len(losses) == 2 and losses[1] < losses[0]
    ckpt = load_checkpoint(out / "best.pt")
    assert {"model", "optimizer", "scheduler", "config", "alphabet", "rng"} <= set(ckpt)
    reader = PlateReader.from_pretrained(out / "best.pt")
    assert reader.arch == "compact"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["provenance"]["parameters"]["epochs"] == 2
    assert metrics["provenance"]["data"]["train"]["n_files"] > 0


def test_an_earlier_run_is_not_overwritten(tiny_run):
    out, _ = tiny_run
    with pytest.raises(PlateOCRError, match="already holds a run"):
        train(TrainConfig(data=str(SAMPLE_DIR), out=str(out), epochs=1), progress=False)


def test_bad_parameters_are_clear_errors(tmp_path):
    with pytest.raises(PlateOCRError, match="unknown arch"):
        train(TrainConfig(data=str(SAMPLE_DIR), out=str(tmp_path / "a"), arch="vgg"), progress=False)
    with pytest.raises(PlateOCRError, match="is an ensemble: train each member"):
        train(TrainConfig(data=str(SAMPLE_DIR), out=str(tmp_path / "i"), arch="wide+sharp"), progress=False)
    with pytest.raises(PlateOCRError, match="epochs must be a positive"):
        train(TrainConfig(data=str(SAMPLE_DIR), out=str(tmp_path / "b"), epochs=-1), progress=False)
    with pytest.raises(PlateOCRError, match="does not exist"):
        train(TrainConfig(data=str(tmp_path / "nowhere"), out=str(tmp_path / "c")), progress=False)
    with pytest.raises(PlateOCRError, match="unknown lr_schedule"):
        train(TrainConfig(data=str(SAMPLE_DIR), out=str(tmp_path / "e"), lr_schedule="linear"), progress=False)
    with pytest.raises(PlateOCRError, match="real_repeat must be"):
        train(TrainConfig(data=str(SAMPLE_DIR), out=str(tmp_path / "f"), real_repeat=0), progress=False)
    with pytest.raises(PlateOCRError, match="synthetic_types 'blue,purple'"):
        train(TrainConfig(data=str(SAMPLE_DIR), out=str(tmp_path / "g"), synthetic_types="blue,purple"), progress=False)
    with pytest.raises(PlateOCRError, match="ema_decay must be"):
        train(TrainConfig(data=str(SAMPLE_DIR), out=str(tmp_path / "h"), ema_decay=1.0), progress=False)
    with pytest.raises(PlateOCRError, match="unknown training parameter"):
        TrainConfig.from_dict({"epochs": 1, "epoch": 2})


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_asking_for_cuda_without_a_gpu_is_a_clear_error(tmp_path):
    with pytest.raises(PlateOCRError, match="no CUDA GPU"):
        train(TrainConfig(data=str(SAMPLE_DIR), out=str(tmp_path / "d"), device="cuda"), progress=False)


@pytest.mark.slow
@pytest.mark.parametrize("ema_decay", [0.0, 0.9])
def test_resume_equals_an_uninterrupted_run(tmp_path, ema_decay):
    # On the CPU: bit-identical results are only promised where algorithms are deterministic.
    common = dict(data=str(SAMPLE_DIR), batch_size=16, seed=5, threads=1, ema_decay=ema_decay, device="cpu")
    full = train(TrainConfig(out=str(tmp_path / "full"), epochs=2, **common), progress=False)
    train(TrainConfig(out=str(tmp_path / "split"), epochs=1, **common), progress=False)
    resumed = train(TrainConfig(out=str(tmp_path / "split"), epochs=2, **common), resume=True, progress=False)
    assert resumed["history"] == full["history"]
    a = load_checkpoint(tmp_path / "full" / "last.pt")["model"]
    split = load_checkpoint(tmp_path / "split" / "last.pt")
    b = split["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    trained = split.get("train_model")
    if ema_decay:  # "model" is the average, saved beside the weights being trained
        assert not torch.equal(trained["classifier.weight"], b["classifier.weight"])
        assert PlateReader.from_pretrained(tmp_path / "split" / "last.pt").model.classifier.weight.equal(
            b["classifier.weight"]
        )
    else:
        assert trained is None


@pytest.mark.slow
def test_cosine_schedule_and_repeated_real_plates(tmp_path):
    from plateocr.training.loop import build_datasets

    cfg = TrainConfig(
        data=str(SAMPLE_DIR),
        out=str(tmp_path / "run"),
        epochs=3,
        batch_size=16,
        seed=1,
        threads=1,
        lr_schedule="cosine",
        real_repeat=3,
        augment=False,
    )
    train_set, val_set, _ = build_datasets(cfg, log=lambda msg: None)
    assert len(train_set) == 3 * (len(list(SAMPLE_DIR.glob("*.jpg"))) - len(val_set))
    lrs = [h["lr"] for h in train(cfg, progress=False)["history"]]
    assert lrs[0] == cfg.lr and lrs[0] > lrs[1] > lrs[2] > 0


def test_synthetic_validation_lets_every_real_plate_train(tmp_path):
    from plateocr.data.datasets import SyntheticPlateDataset
    from plateocr.training.loop import build_datasets

    cfg = TrainConfig(data=str(SAMPLE_DIR), val="synthetic", synthetic_val=20, out=str(tmp_path / "run"))
    train_set, val_set, fingerprint = build_datasets(cfg, log=lambda msg: None)
    assert len(train_set) == len(list(SAMPLE_DIR.glob("*.jpg")))
    assert isinstance(val_set, SyntheticPlateDataset) and len(val_set) == 20
    assert fingerprint["val"] == "synthetic"


def test_synthetic_types_limit_what_is_rendered_in_training_and_mixing(tmp_path):
    from plateocr.alphabet import PLATE_TYPES
    from plateocr.training.loop import build_datasets

    cfg = TrainConfig(data=str(SAMPLE_DIR), out=str(tmp_path / "run"), mix_synthetic=60, synthetic_types="green,white")
    mixed = build_datasets(cfg, log=lambda msg: None)[0].datasets[-1]
    synthetic = build_datasets(
        TrainConfig(**{**cfg.to_dict(), "data": "synthetic", "synthetic_train": 60}), log=lambda msg: None
    )[0]
    for dataset in (mixed, synthetic):
        assert {PLATE_TYPES[dataset[i][2]] for i in range(len(dataset))} == {"green", "white"}


# The recipe's ensemble alone, fine-tuned on the bundled sample (mock training: nothing is fitted).
TEACHERS_ONLY = ["--real", str(SAMPLE_DIR), "--student", "none", "--no-hold-out-sample"]


def test_holding_the_sample_out_of_the_sample_alone_leaves_nothing_and_says_so(tmp_path, monkeypatch):
    from plateocr.research import recipe

    monkeypatch.setattr(recipe, "train", lambda cfg, **kw: None)
    with pytest.raises(PlateOCRError, match="nothing is left to fine-tune on .add --no-hold-out-sample."):
        recipe.main(["--real", str(SAMPLE_DIR), "--student", "none", "--out", str(tmp_path)])


def test_recipe_overrides_reach_both_stages(tmp_path, monkeypatch):
    from plateocr.research import recipe

    seen = []
    monkeypatch.setattr(recipe, "train", lambda cfg, **kw: seen.append(cfg))
    recipe.main(
        [
            "--real",
            str(SAMPLE_DIR),
            "--student",
            "none",
            "--no-hold-out-sample",
            "--out",
            str(tmp_path),
            "--members",
            "wide",
            "--set",
            "type_loss_weight=0",
            "--set",
            "synthetic_types=blue,green",
        ]
    )
    assert [c.type_loss_weight for c in seen] == [0, 0] and {c.synthetic_types for c in seen} == {"blue,green"}
    assert seen[0].data == "synthetic" and seen[1].init_checkpoint == str(tmp_path / "pretrain" / "best.pt")
    seen.clear()
    recipe.main([*TEACHERS_ONLY, "--out", str(tmp_path), "--members", "wide", "--pretrain-only"])
    assert len(seen) == 1 and seen[0].type_loss_weight == TrainConfig().type_loss_weight
    with pytest.raises(PlateOCRError, match="unknown training parameter"):
        recipe.main([*TEACHERS_ONLY, "--out", str(tmp_path), "--set", "epoch=3"])


def test_recipe_deskews_the_fine_tuning_and_can_run_it_alone(tmp_path, monkeypatch):
    from plateocr.research import recipe

    seen = []
    monkeypatch.setattr(recipe, "train", lambda cfg, **kw: seen.append(cfg))
    with pytest.raises(PlateOCRError, match="no stage-1 checkpoint"):  # before anything trains
        recipe.main([*TEACHERS_ONLY, "--out", str(tmp_path), "--members", "wide", "--finetune-only"])
    assert seen == []
    (tmp_path / "pretrain").mkdir()
    (tmp_path / "pretrain" / "best.pt").write_bytes(b"stage 1")
    recipe.main([*TEACHERS_ONLY, "--out", str(tmp_path), "--members", "wide", "--finetune-only"])
    assert len(seen) == 1 and seen[0].init_checkpoint == str(tmp_path / "pretrain" / "best.pt")
    assert seen[0].deskew and not TrainConfig.from_dict({**recipe.pretrain_params("wide"), "arch": "wide"}).deskew


def test_recipe_resume_goes_on_from_each_stage_and_keeps_finished_ones(tmp_path, monkeypatch):
    from plateocr.research import recipe

    calls = []
    monkeypatch.setattr(recipe, "train", lambda cfg, **kw: calls.append((Path(cfg.out).name, kw.get("resume", False))))
    args = [*TEACHERS_ONLY, "--out", str(tmp_path), "--members", "wide,sharp", "--pretrain-only"]
    stage1 = {arch: TrainConfig.from_dict({**recipe.pretrain_params(arch), "arch": arch}) for arch in ("wide", "sharp")}

    def last_epoch(arch: str, epoch: int, **changes) -> None:
        cfg = stage1[arch]
        config = {**cfg.to_dict(), "out": str(tmp_path / f"pretrain_{arch}"), "threads": 1, **changes}
        save_checkpoint(
            tmp_path / f"pretrain_{arch}" / "last.pt",
            {"arch": arch, "alphabet": Tokenizer().alphabet, "model": {}, "config": config, "epoch": epoch},
        )

    last_epoch("wide", stage1["wide"].epochs - 1)  # finished: kept
    last_epoch("sharp", 3)  # stopped after its fourth epoch: goes on (another thread count is fine)
    recipe.main([*args, "--resume"])
    assert calls == [("pretrain_sharp", True)]
    calls.clear()
    recipe.main(args)  # without --resume every stage starts again
    assert calls == [("pretrain_wide", False), ("pretrain_sharp", False)]
    last_epoch("sharp", 3, lr=0.5)
    with pytest.raises(PlateOCRError, match=r"pretrain_sharp/last.pt was trained with other parameters \(lr=0.5, not"):
        recipe.main([*args, "--resume"])


def test_recipe_members_train_through_both_stages_and_ship_as_one_ensemble(tmp_path, monkeypatch):
    from plateocr.models.checkpoint import save_checkpoint
    from plateocr.models.crnn import build_model
    from plateocr.research import recipe

    seen = []
    monkeypatch.setattr(recipe, "train", lambda cfg, **kw: seen.append(cfg))
    recipe.main([*TEACHERS_ONLY, "--out", str(tmp_path), "--members", "wide,sharp"])
    assert [(c.arch, Path(c.out).name) for c in seen] == [
        ("wide", "pretrain_wide"),
        ("sharp", "pretrain_sharp"),
        ("wide", "finetune_wide"),
        ("sharp", "finetune_sharp"),
    ]
    assert seen[3].init_checkpoint == str(tmp_path / "pretrain_sharp" / "best.pt")
    # stage 1 deskews the sharp member's synthetic crops only; stage 2 deskews both members'
    assert [c.deskew for c in seen] == [False, True, True, True]
    seen.clear()
    with pytest.raises(PlateOCRError, match="unknown arch 'vgg'"):  # before any stage trains
        recipe.main([*TEACHERS_ONLY, "--out", str(tmp_path), "--members", "wide,vgg"])
    assert seen == []
    tok = Tokenizer()
    trained = [
        save_checkpoint(
            tmp_path / f"{arch}.pt",
            {
                "arch": arch,
                "alphabet": tok.alphabet,
                "model": build_model(arch, tok.num_classes).state_dict(),
                "config": {"arch": arch},
                "metrics": {},
                "history": [],
                "epoch": 1,
                "optimizer": {"state": {}},
            },
        )
        for arch in ("wide", "sharp")
    ]
    shipped = recipe.ship(trained, tmp_path / "shipped.pt")
    assert PlateReader.from_pretrained(shipped).arch == "wide+sharp"
    assert "optimizer" not in torch.load(shipped, weights_only=True)


def test_the_recipe_distils_the_student_from_the_ensemble_it_just_trained(tmp_path, monkeypatch, plates_dev):
    from plateocr.models.checkpoint import save_checkpoint
    from plateocr.models.crnn import build_model
    from plateocr.research import recipe

    tok, seen = Tokenizer(), []

    def fake_train(cfg, **kw):  # each stage leaves a real, untrained checkpoint where the recipe looks
        seen.append(cfg)
        model = build_model(cfg.arch, tok.num_classes).state_dict()
        payload = {
            "arch": cfg.arch,
            "alphabet": tok.alphabet,
            "model": model,
            "config": cfg.to_dict(),
            "metrics": {},
            "history": [],
            "epoch": 0,
        }
        for name in ("best.pt", recipe.SHIPPED_STAGE2):
            save_checkpoint(Path(cfg.out) / name, payload)

    monkeypatch.setattr(recipe, "train", fake_train)
    recipe.main(["--real", str(plates_dev), "--out", str(tmp_path), "--members", "wide,sharp"])
    assert [(c.arch, Path(c.out).name) for c in seen] == [
        ("wide", "pretrain_wide"),
        ("sharp", "pretrain_sharp"),
        ("wide", "finetune_wide"),
        ("sharp", "finetune_sharp"),
        ("glance", "pretrain_glance"),
        ("glance", "finetune_glance"),
    ]
    student = seen[-1]
    # The student learns from the ensemble just joined, in both of its stages.
    assert seen[-2].teacher == student.teacher == str(tmp_path / "accurate.pt")
    assert seen[-2].data == "synthetic" and not any(c.teacher for c in seen[:4])
    assert student.init_checkpoint.endswith("pretrain_glance/best.pt")
    assert student.recolour_p > 0 and student.deskew and student.distill_weight > 0
    # By default the bundled sample is out of every stage 2: `evaluate --data sample` scores unseen plates.
    manifest = Path(student.data).read_text(encoding="utf-8")
    assert all(c.data == student.data for c in (*seen[2:4], student))
    assert not any(f"/{f.name}" in manifest for f in SAMPLE_DIR.glob("*.jpg"))
    assert len(manifest.splitlines()) - 1 == len(list(plates_dev.glob("*.jpg"))) - len(list(SAMPLE_DIR.glob("*.jpg")))
    fast, accurate = (PlateReader.from_pretrained(tmp_path / name) for name in ("fast.pt", "accurate.pt"))
    assert (fast.arch, fast.tta) == ("glance", "none") and (accurate.arch, accurate.tta) == ("wide+sharp", "phase")


def test_stage_1_alone_stops_before_the_student_unless_its_teacher_is_given(tmp_path, monkeypatch):
    from plateocr.research import recipe
    from plateocr.research.recipe import SHIPPED_ACCURATE

    seen = []
    monkeypatch.setattr(recipe, "train", lambda cfg, **kw: seen.append(cfg))
    recipe.main(["--real", str(SAMPLE_DIR), "--out", str(tmp_path), "--pretrain-only"])
    assert [c.arch for c in seen] == ["wide", "sharp"]
    seen.clear()
    recipe.main(
        ["--real", str(SAMPLE_DIR), "--out", str(tmp_path), "--pretrain-only", "--teacher", str(SHIPPED_ACCURATE)]
    )
    assert [(c.arch, c.data, c.teacher) for c in seen] == [("glance", "synthetic", str(SHIPPED_ACCURATE))]


def test_the_recipe_can_distil_the_student_from_a_trained_ensemble_alone(tmp_path, monkeypatch):
    from plateocr.research import recipe
    from plateocr.research.recipe import SHIPPED_ACCURATE

    seen = []
    monkeypatch.setattr(recipe, "train", lambda cfg, **kw: seen.append(cfg))
    monkeypatch.setattr(recipe, "ship", lambda *a, **kw: None)
    teacher = ["--teacher", str(SHIPPED_ACCURATE)]
    recipe.main(["--real", str(SAMPLE_DIR), "--out", str(tmp_path), *teacher, "--no-hold-out-sample"])
    assert [(c.arch, Path(c.out).name) for c in seen] == [("glance", "pretrain_glance"), ("glance", "finetune_glance")]
    assert seen[0].teacher == seen[-1].teacher == str(SHIPPED_ACCURATE)
    with pytest.raises(SystemExit):
        recipe.main(["--real", str(SAMPLE_DIR), *teacher, "--student", "none"])


@pytest.mark.slow
@pytest.mark.parametrize("speed", [{}, {"amp": True, "channels_last": True}], ids=["float32", "bf16-nhwc"])
def test_same_parameters_give_identical_metrics(tmp_path, speed):
    cfg = dict(
        data="synthetic",
        val=str(SAMPLE_DIR),
        batch_size=16,
        seed=2,
        synthetic_train=96,
        epochs=1,
        device="cpu",
        **speed,
    )
    a = train(TrainConfig(out=str(tmp_path / "a"), **cfg), progress=False)
    b = train(TrainConfig(out=str(tmp_path / "b"), **cfg), progress=False)
    ja = json.loads((tmp_path / "a" / "metrics.json").read_text())
    jb = json.loads((tmp_path / "b" / "metrics.json").read_text())
    ja.pop("provenance"), jb.pop("provenance")
    for j in (ja, jb):
        j["checkpoint"] = os.path.basename(j["checkpoint"])
    assert ja == jb and a["history"] == b["history"]


@pytest.mark.slow
@pytest.mark.parametrize("processes", [1, 2])
def test_torchrun_gloo_training(tmp_path, processes):
    """Under torchrun even one process trains through DDP; two split the data between them, and
    validation gathers every rank's share."""
    from plateocr.training.loop import build_datasets

    torchrun = shutil.which("torchrun", path=os.path.dirname(sys.executable))
    if torchrun is None:
        pytest.skip("torchrun is not installed beside this Python")
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [
            torchrun,
            "--standalone",
            f"--nproc_per_node={processes}",
            "-m",
            "plateocr",
            "train",
            "--data",
            str(SAMPLE_DIR),
            "--out",
            str(out),
            "--epochs",
            "1",
            "--batch-size",
            "8",
            "--quiet",
            "--threads",
            "1",
            "--device",
            "cpu",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"world size {processes}, DDP" in proc.stderr
    reader = PlateReader.from_pretrained(out / "best.pt")
    assert len(reader.read(sorted(SAMPLE_DIR.glob("*.jpg"))[:3])) == 3
    metrics = json.loads((out / "metrics.json").read_text())
    train_set, val_set, _ = build_datasets(TrainConfig(data=str(SAMPLE_DIR)), log=lambda msg: None)
    per_rank = len(train_set) // processes // 8 * 8  # each rank's share, in whole batches of 8
    assert metrics["provenance"]["epoch_plates"] == [{"train": processes * per_rank, "val": len(val_set)}]


@pytest.mark.slow
def test_resume_works_after_a_kill_while_writing_the_checkpoint(tmp_path):
    """A run killed in the middle of writing last.pt resumes from the previous, intact last.pt."""
    import signal
    import textwrap

    out = tmp_path / "run"
    common = dict(data=str(SAMPLE_DIR), out=str(out), batch_size=16, seed=3, threads=1)
    train(TrainConfig(epochs=1, **common), progress=False)
    script = textwrap.dedent(f"""
        import os, signal
        import plateocr.models.checkpoint as ck
        from plateocr.training.config import TrainConfig
        from plateocr.training.loop import train
        def dying_save(obj, f):
            f.write(b"half a checkpoint")
            f.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        ck.torch.save = dying_save
        train(TrainConfig(epochs=2, **{common!r}), resume=True, progress=False)
    """)
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True)
    assert proc.returncode == -signal.SIGKILL
    assert load_checkpoint(out / "last.pt")["epoch"] == 0  # still the first epoch's
    result = train(TrainConfig(epochs=2, **common), resume=True, progress=False)
    assert [h["epoch"] for h in result["history"]] == [1, 2]


def test_more_processes_than_gpus_is_a_one_line_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    for key, value in {"WORLD_SIZE": "2", "RANK": "1", "LOCAL_RANK": "1", "MASTER_ADDR": "localhost"}.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(PlateOCRError, match="local rank 1 has no GPU: this node has 1"):
        Distributed(torch.device("cuda"))


def test_a_stray_master_addr_does_not_start_a_process_group(monkeypatch):
    for key in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_PORT"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("MASTER_ADDR", "localhost")
    env = Distributed(torch.device("cpu"))
    assert not env.launched and env.world == 1 and not torch.distributed.is_initialized()


def conv_output_dtypes_while(run) -> set:
    """The dtypes of every convolution's output while `run()` trains (a process-wide forward hook)."""
    seen = set()

    def hook(module, inputs, output):
        if isinstance(module, torch.nn.Conv2d) and module.training:
            seen.add(output.dtype)

    handle = torch.nn.modules.module.register_module_forward_hook(hook)
    try:
        run()
    finally:
        handle.remove()
    return seen


AMP_RUN = dict(data=str(SAMPLE_DIR), batch_size=16, seed=3, threads=1, epochs=1, device="cpu")


@pytest.mark.slow
@pytest.mark.skipif(not cpu_has_bf16(), reason="this CPU has no bf16 instructions (--amp trains in float32)")
def test_amp_on_a_cpu_with_bf16_trains_in_bfloat16(tmp_path):
    mixed = {}
    dtypes = conv_output_dtypes_while(
        lambda: mixed.update(train(TrainConfig(out=str(tmp_path / "bf16"), amp=True, **AMP_RUN), progress=False))
    )
    assert dtypes == {torch.bfloat16}
    assert conv_output_dtypes_while(
        lambda: train(TrainConfig(out=str(tmp_path / "f32"), **AMP_RUN), progress=False)
    ) == {torch.float32}
    assert load_checkpoint(tmp_path / "bf16" / "last.pt")["config"]["amp"] is True
    assert torch.isfinite(torch.tensor(mixed["history"][0]["train_loss"]))


@pytest.mark.slow
@pytest.mark.skipif(cpu_has_bf16(), reason="this CPU has bf16 instructions")
def test_amp_on_a_cpu_without_bf16_trains_in_float32_and_says_so(tmp_path, capsys):
    dtypes = conv_output_dtypes_while(
        lambda: train(TrainConfig(out=str(tmp_path / "amp"), amp=True, **AMP_RUN), progress=False)
    )
    assert dtypes == {torch.float32}
    notes = [line for line in capsys.readouterr().err.splitlines() if "bf16" in line]
    assert notes == [
        "note: this CPU has no bf16 instructions: --amp trains in float32 here (bf16 would be ~10x slower)"
    ]


@pytest.mark.slow
def test_a_cpu_without_bf16_is_told_apart_and_amp_falls_back(tmp_path):
    """oneDNN limited to AVX2 has no bf16 instructions, as on such a CPU: --amp trains in float32."""
    code = (
        "import torch; from plateocr.reading.devices import cpu_has_bf16; "
        "from plateocr.training.loop import mixed_precision_dtype; "
        "print(cpu_has_bf16(), mixed_precision_dtype(torch.device('cpu'), print))"
    )
    env = {**os.environ, "ONEDNN_MAX_CPU_ISA": "AVX2"}
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.splitlines() == [
        "note: this CPU has no bf16 instructions: --amp trains in float32 here (bf16 would be ~10x slower)",
        "False None",
    ]


@pytest.mark.slow
def test_fine_tuning_from_an_ensemble_starts_from_its_member_of_the_runs_arch(tmp_path):
    tokenizer = Tokenizer()
    torch.manual_seed(0)
    members = [
        {
            "arch": a,
            "alphabet": tokenizer.alphabet,
            "config": {"arch": a},
            "model": build_model(a, tokenizer.num_classes).state_dict(),
        }
        for a in ("wide", "sharp")
    ]
    ensemble = save_checkpoint(tmp_path / "ensemble.pt", join_checkpoints(members))
    cfg = dict(data=str(SAMPLE_DIR), epochs=1, batch_size=16, threads=1, init_checkpoint=str(ensemble))
    train(TrainConfig(out=str(tmp_path / "run"), arch="sharp", lr=1e-12, **cfg), progress=False)
    tuned = load_checkpoint(tmp_path / "run" / "last.pt")
    assert tuned["arch"] == "sharp"
    weights = [k for k, t in members[1]["model"].items() if k.endswith("weight") and t.dim() == 4]
    assert weights and all(torch.allclose(tuned["model"][k], members[1]["model"][k], atol=1e-6) for k in weights)
    with pytest.raises(PlateOCRError, match="wide\\+sharp model with another alphabet or arch"):
        train(TrainConfig(out=str(tmp_path / "c"), arch="compact", **cfg), progress=False)


def test_the_official_ccpd_splits_train_and_validate(ccpd_trees):
    from plateocr.training.loop import build_datasets

    root, _ = ccpd_trees
    cfg = TrainConfig(data=str(root), split="train", val_split="val", out="unused")
    train_set, val_set, fingerprint = build_datasets(cfg, log=lambda msg: None)
    assert len(train_set) == 5 and len(val_set) == 3  # split/train.txt and split/val.txt, nothing else
    assert {Path(r.path).parent.name for r in train_set.records + val_set.records} == {"ccpd_base"}
    assert not {r.path for r in train_set.records} & {r.path for r in val_set.records}
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg  # the split travels in checkpoints' config
    with pytest.raises(PlateOCRError, match="synthetic data has none"):
        TrainConfig(data="synthetic", split="train").validate()


def test_a_validation_path_validates_and_all_of_data_trains(tmp_path):
    from plateocr.training.loop import build_datasets

    val_dir = tmp_path / "val"
    val_dir.mkdir()
    for f in sorted(SAMPLE_DIR.glob("*.jpg"))[:7]:
        shutil.copy(f, val_dir / f.name)
    (val_dir / "notes.txt").write_text("not a plate")
    logged = []
    cfg = TrainConfig(data=str(SAMPLE_DIR), val=str(val_dir), out=str(tmp_path / "run"))
    train_set, val_set, fingerprint = build_datasets(cfg, log=logged.append)
    assert len(train_set) == len(list(SAMPLE_DIR.glob("*.jpg"))) and len(val_set) == 7
    assert fingerprint["val"]["n_files"] == 7 and fingerprint["train"]["n_files"] == len(train_set)
    assert any(line.startswith(f"validation data {val_dir}: 7 plates; skipped 1 file(s)") for line in logged)


def test_a_failed_run_leaves_the_determinism_flags_as_they_were(tmp_path):
    before = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    missing = tmp_path / "nowhere.pt"
    with pytest.raises(PlateOCRError, match="does not exist"):  # fails inside the set-up, after the flags are set
        train(
            TrainConfig(
                data=str(SAMPLE_DIR), out=str(tmp_path / "run"), epochs=1, device="cpu", init_checkpoint=str(missing)
            ),
            progress=False,
        )
    after = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    assert after == before


def _sample_batch(n: int = 8):
    paths = sorted(SAMPLE_DIR.glob("*.jpg"))[:n]
    items = [
        (torch.from_numpy(prepare_crop(load_image(p), (32, 96))).permute(2, 0, 1), p.stem, PLATE_TYPES.index("blue"))
        for p in paths
    ]
    return make_collate(Tokenizer())(items)


def _loss(model, batch, polarity_weight: float) -> float:
    cfg = TrainConfig(data="unused", out="unused", arch="fast", recolour_p=1.0, polarity_weight=polarity_weight)
    torch.manual_seed(0)
    with torch.no_grad():
        return float(ctc_and_type_loss(model, batch, cfg, torch.device("cpu"), nullcontext, BatchAugment()))


def test_a_recoloured_plate_learns_to_read_as_its_blue_original_under_the_same_augmentation(monkeypatch):
    model, batch = PlateReader.from_pretrained("fast", precision="float32").model, _sample_batch()
    # A model reads its recoloured plates unlike their blue originals, so the pairing adds a loss.
    assert _loss(model, batch, 1.0) > _loss(model, batch, 0.0) + 1e-4
    # With recolouring a no-op, each pair is one image augmented twice: equal only if the blue copy
    # was warped, lit, blurred and compressed by the same draws as the plate it is paired with.
    monkeypatch.setattr("plateocr.data.recolour.recolour_batch", lambda images, colours: images)
    assert _loss(model, batch, 1.0) == pytest.approx(_loss(model, batch, 0.0), abs=1e-5)
    assert not model.training  # the targets' evaluation pass leaves the model's mode as it found it


@pytest.mark.parametrize("alignment", ["frame", "character"])
def test_the_training_step_learns_the_teachers_posteriors(alignment):
    model, batch = PlateReader.from_pretrained("fast", precision="float32").model.eval(), _sample_batch()
    other = PlateReader.from_pretrained("accurate", tta="none", precision="float32").model.eval()

    def loss(teacher=None) -> float:
        cfg = TrainConfig(data="unused", out="unused", arch="fast", distill_alignment=alignment)
        with torch.no_grad():
            return float(ctc_and_type_loss(model, batch, cfg, torch.device("cpu"), nullcontext, teacher=teacher))

    without = loss()
    assert loss(lambda images: model(images)[0]) == pytest.approx(without, abs=1e-4)  # its own posteriors
    assert loss(lambda images: other(images)[0]) > without + 1e-3


def test_a_clean_teacher_reads_each_plate_moved_as_the_student_sees_it_but_not_recoloured_or_degraded():
    batch = _sample_batch()
    model = PlateReader.from_pretrained("fast", precision="float32").model.eval()
    augment = BatchAugment(p_affine=1.0, p_colour=1.0, p_blur=1.0, p_jpeg=1.0)
    seen: list[torch.Tensor] = []

    def teacher(images):
        seen.append(images)
        return model(images)[0]

    cfg = TrainConfig(data="unused", out="unused", arch="fast", recolour_p=1.0, distill_clean=True)
    torch.manual_seed(0)
    with torch.no_grad():
        ctc_and_type_loss(model, batch, cfg, torch.device("cpu"), nullcontext, augment, teacher)
    # The step recolours first (all of them: recolour_p 1), then warps, lights, blurs and compresses;
    # the teacher's plates are the blue originals under the student's warp, and nothing else.
    torch.manual_seed(0)
    recoloured = recolour_blue_plates(
        batch.images, batch.plate_types, 1.0, PLATE_TYPES.index("blue"), {c: PLATE_TYPES.index(c) for c in RECOLOURED}
    )
    assert len(recoloured[2]) == len(batch.images)
    warped = augment.geometry(batch.images)
    assert torch.equal(seen[0], warped)
    assert not torch.equal(warped, augment(batch.images))
