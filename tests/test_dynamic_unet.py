"""`resnet18_dynamic_unet` is fastai's DynamicUnet on a ResNet18 body, layer for layer.

The comparison builds fastai's own model exactly as the tutorial the study follows does
(`create_body(resnet18, n_in=1, cut=-2)`, `DynamicUnet(body, 2, img_size)`), loads its state
dict into kolorize's network tensor by tensor (same order, same shapes) and asks for the same
outputs. fastai is a test-only dependency (the `dev` extra).
"""

from __future__ import annotations

import pytest
import torch
import torchvision

from kolorize.config import GeneratorConfig
from kolorize.models import build_generator, input_multiple
from kolorize.models.dynamic_unet import ResNet18DynamicUNet, icnr_

FULL_PARAMETERS = 31_099_672  # fastai's DynamicUnet(create_body(resnet18, n_in=1, cut=-2), 2)
DECODER_PARAMETERS = 19_929_432


def _fastai_body(depth: int, resnet: torch.nn.Module | None = None) -> torch.nn.Module:
    pytest.importorskip("fastai", reason="fastai (in the dev extra) builds the reference model")
    from fastai.vision.learner import create_body

    return create_body(resnet or torchvision.models.resnet18(), n_in=1, cut=depth - 6)


def _fastai_unet(depth: int) -> torch.nn.Module:
    from fastai.vision.models.unet import DynamicUnet

    # img_size only sets the size of the trial run that finds where the body halves its
    # resolution; for a ResNet body the layers come out the same at 64 px as at 256 px, faster
    return DynamicUnet(_fastai_body(depth), 2, (64, 64))


def _load_fastai_weights(ours: torch.nn.Module, theirs: torch.nn.Module) -> None:
    """fastai's tensors into our network by position: the two must list the same shapes in the
    same order."""
    mine, reference = ours.state_dict(), theirs.state_dict()
    assert len(mine) == len(reference)
    for (name, a), (ref_name, b) in zip(mine.items(), reference.items(), strict=True):
        assert a.shape == b.shape, f"{name} {tuple(a.shape)} vs fastai's {ref_name}"
    ours.load_state_dict(dict(zip(mine, reference.values(), strict=True)))


def _count(params) -> int:
    return sum(p.numel() for p in params)


def test_full_size_has_fastais_parameter_count() -> None:
    g = build_generator(GeneratorConfig(arch="resnet18_dynamic_unet"))
    assert isinstance(g, ResNet18DynamicUNet)
    assert _count(g.parameters()) == FULL_PARAMETERS
    assert _count(p for n, p in g.named_parameters() if not n.startswith("encoder.")) == (
        DECODER_PARAMETERS
    )
    assert input_multiple(g) == 32


@pytest.mark.parametrize(("depth", "sizes"), [(4, [(64, 64), (72, 40)]), (3, [(48, 80)])])
def test_outputs_equal_fastais_with_its_weights(depth: int, sizes: list[tuple[int, int]]) -> None:
    torch.manual_seed(0)
    theirs = _fastai_unet(depth)
    with torch.no_grad():  # BatchNorm statistics of one training step: eval is no identity
        theirs.train()(torch.randn(2, 1, 32, 32))
    ours = ResNet18DynamicUNet(1, 2, depth=depth)
    _load_fastai_weights(ours, theirs)
    theirs.eval(), ours.eval()
    with torch.no_grad():
        for h, w in sizes:  # 72x40 is no multiple of 32: both resize, nearest, inside
            x = torch.randn(1, 1, h, w)
            expected, got = theirs(x), ours(x)
            assert got.shape == (1, 2, h, w)
            torch.testing.assert_close(got, expected.as_subclass(torch.Tensor), rtol=0, atol=1e-6)
        x = torch.randn(2, 1, 32, 32)  # training mode: batch statistics
        torch.testing.assert_close(
            ours.train()(x), theirs.train()(x).as_subclass(torch.Tensor), rtol=0, atol=1e-6
        )


def test_initialisation_follows_fastai() -> None:
    """Decoder tensors start as fastai's do: the same constants (zero biases, BatchNorm 1 and
    1e-3) and random tensors of the same spread (kaiming-normal convs, ICNR upsampling)."""
    torch.manual_seed(0)
    theirs = _fastai_unet(4).state_dict()
    ours = ResNet18DynamicUNet().state_dict()
    pairs = [(n, ours[n], t) for n, t in zip(ours, theirs.values(), strict=True)]
    decoder = [(n, a, b) for n, a, b in pairs if not n.startswith("encoder.")]
    assert len(decoder) > 40
    for name, a, b in decoder:
        a, b = a.float(), b.float()
        if b.numel() > 1 and float(b.std()) == 0:
            assert torch.equal(a, b), name
        elif b.numel() >= 1000:
            assert abs(float(a.std()) / float(b.std()) - 1) < 0.1, name
    w = ours["blocks.0.shuf.0.0.weight"]  # ICNR: the 4 sub-pixels of a channel share a kernel
    assert torch.equal(w[0::4], w[1::4]) and torch.equal(w[0::4], w[3::4])


def test_icnr_is_fastais() -> None:
    pytest.importorskip("fastai", reason="fastai (in the dev extra) holds the reference init")
    from fastai.layers import icnr_init

    shape = (64, 12, 1, 1)
    torch.manual_seed(3)
    expected = icnr_init(torch.empty(shape))
    torch.manual_seed(3)
    assert torch.equal(icnr_(torch.empty(shape)), expected)


def test_imagenet_weights_load_as_create_body_adapts_them(tmp_path) -> None:
    imagenet = torchvision.models.resnet18()  # random stand-in for the ImageNet weights
    path = tmp_path / "resnet18-f37072fd.pth"
    torch.save(imagenet.state_dict(), path)
    g = build_generator(
        GeneratorConfig(arch="resnet18_dynamic_unet", pretrained=True, weights=str(path))
    )
    body = _fastai_body(4, imagenet)  # create_body(pretrained=True) sums the RGB kernels
    for (name, ours), theirs in zip(g.encoder.state_dict().items(), body.state_dict().values(),
                                    strict=True):  # fmt: skip
        assert torch.equal(ours, theirs), name
    assert g.encoder.conv1.weight.shape == (64, 1, 7, 7)


def test_narrow_variant_any_size_and_linear_output() -> None:
    g = ResNet18DynamicUNet(1, 2, width=8, depth=3)
    assert input_multiple(g) == 16
    with torch.no_grad():
        g.out.weight.mul_(50)
        out = g(torch.randn(2, 1, 48, 40))
    assert out.shape == (2, 2, 48, 40)
    assert out.abs().max() > 1  # no tanh: fastai's 1x1 output is linear
    assert not any(isinstance(m, torch.nn.Tanh) for m in g.modules())
