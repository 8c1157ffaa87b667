import pytest
import torch

from plateocr.errors import PlateOCRError
from plateocr.models.crnn import ARCH_INPUT_SIZE, EnsembleCRNN, build_model, count_parameters, input_size


@pytest.mark.parametrize("arch", ["compact", "fast", "glance", "wide", "sharp", "seed"])
def test_output_shapes(arch):
    model = build_model(arch, num_classes=77).eval()
    images = torch.randint(0, 256, (3, 3, *ARCH_INPUT_SIZE[arch]), dtype=torch.uint8)
    with torch.no_grad():
        log_probs, type_logits = model(images)
    assert log_probs.shape[1:] == (3, 77) and log_probs.shape[0] >= 2 * 8 - 1
    assert type_logits.shape == (3, 6)
    assert torch.allclose(log_probs.exp().sum(-1), torch.ones(log_probs.shape[:2]), atol=1e-4)


def test_sizes():
    assert count_parameters(build_model("compact", 77)) <= 400_000
    assert count_parameters(build_model("compact", 77)) < count_parameters(build_model("wide", 77)) <= 2_000_000
    assert count_parameters(build_model("compact", 77)) < count_parameters(build_model("sharp", 77)) <= 2_000_000
    assert 30e6 < count_parameters(build_model("seed", 77)) < 40e6


def test_unknown_arch_is_a_clear_error():
    with pytest.raises(PlateOCRError, match="unknown arch"):
        build_model("resnet", 77)
    with pytest.raises(PlateOCRError, match="unknown arch 'wide\\+resnet'"):
        build_model("wide+resnet", 77)
    with pytest.raises(PlateOCRError, match="different input sizes"):
        build_model("wide+seed", 77)


def test_the_sharp_stem_keeps_every_column_the_wide_one_halves():
    wide, sharp = build_model("wide", 77), build_model("sharp", 77)
    images = torch.randint(0, 256, (1, 3, *ARCH_INPUT_SIZE["sharp"]), dtype=torch.uint8)
    assert wide.features[0](images.float()).shape[-1] == 48
    assert sharp.features[0](images.float()).shape[-1] == 96
    assert wide(images)[0].shape == sharp(images)[0].shape  # same CTC steps: they can be ensembled


def test_an_ensemble_reads_the_mean_of_its_members_probabilities():
    torch.manual_seed(0)
    ensemble = build_model("wide+sharp", 77).eval()
    wide, sharp = ensemble.members
    assert isinstance(ensemble, EnsembleCRNN) and input_size("wide+sharp") == ARCH_INPUT_SIZE["wide"]
    images = torch.randint(0, 256, (4, 3, *input_size("wide+sharp")), dtype=torch.uint8)
    with torch.no_grad():
        log_probs, type_log_probs = ensemble(images)
        expected = (wide(images)[0].exp() + sharp(images)[0].exp()) / 2
    assert torch.allclose(log_probs.exp(), expected, atol=1e-6)
    assert torch.allclose(type_log_probs.exp().sum(-1), torch.ones(4), atol=1e-5)


def test_the_fast_student_shares_the_ensembles_frame_grid_without_an_lstm():
    fast, wide = build_model("fast", 77).eval(), build_model("wide", 77).eval()
    images = torch.randint(0, 256, (2, 3, *input_size("fast")), dtype=torch.uint8)
    with torch.no_grad():
        assert fast(images)[0].shape == wide(images)[0].shape  # frame t of one is frame t of the other
    assert not any(isinstance(m, torch.nn.LSTM) for m in fast.modules())
    assert count_parameters(build_model("compact", 77)) < count_parameters(fast) < count_parameters(wide)


def test_the_convolutional_sequence_head_loads_weights_stored_as_1d_convolutions():
    from plateocr.models.crnn import ConvSequence

    torch.manual_seed(0)
    head = ConvSequence(8, 6, rows=2).eval()
    stored = {k: v.clone() for k, v in head.state_dict().items()}
    # As 1-D convs over (C · rows) stacked channels, 3 columns wide.
    stored["body.0.weight"] = torch.randn(6, 16, 3)
    stored["body.3.weight"] = torch.randn(6, 6, 3)
    head.load_state_dict(stored)
    features = torch.randn(2, 8, 2, 24)
    with torch.no_grad():
        seq = features.reshape(2, 16, 24)
        expected = torch.nn.functional.conv1d(seq, stored["body.0.weight"], padding=1)
        expected = head.body[2](head.body[1](expected.unsqueeze(2))).squeeze(2)
        expected = torch.nn.functional.conv1d(expected, stored["body.3.weight"], padding=1)
        expected = head.body[5](head.body[4](expected.unsqueeze(2))).squeeze(2).permute(2, 0, 1)
        assert torch.allclose(head(features), expected, atol=1e-5)


@pytest.mark.parametrize("arch", ["fast", "glance", "seed"])
def test_batch_norms_folded_into_their_convolutions_read_the_same(arch):
    from plateocr.models.fusion import fold_batch_norms

    torch.manual_seed(0)
    model = build_model(arch, num_classes=77)
    for module in model.modules():  # statistics a trained model would have, not the identity
        if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
    model.eval()
    images = torch.randint(0, 256, (2, 3, *input_size(arch)), dtype=torch.uint8)
    with torch.no_grad():
        before = model(images)
        folded = fold_batch_norms(model)
        after = folded(images)
    norms = (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)
    assert not any(isinstance(m, norms) for m in folded.modules())
    assert torch.allclose(before[0], after[0], atol=1e-4) and torch.allclose(before[1], after[1], atol=1e-4)


def test_the_glance_student_sees_the_whole_plate_from_every_step():
    # A step of the convolutional student sees about two characters; with one attention layer the
    # first step changes when the plate's last columns do.
    torch.manual_seed(0)
    images = torch.randint(0, 256, (1, 3, *input_size("glance")), dtype=torch.uint8)
    changed = images.clone()
    changed[..., -16:] = 255 - changed[..., -16:]
    for arch, reaches in (("fast", False), ("glance", True)):
        model = build_model(arch, num_classes=77).eval()
        with torch.no_grad():
            first = model(images)[0][0], model(changed)[0][0]
        assert (not torch.allclose(*first, atol=1e-6)) == reaches
