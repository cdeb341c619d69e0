import pytest
import torch

from kolorize.config import DiscriminatorConfig, GeneratorConfig
from kolorize.models import build_discriminator, build_generator
from kolorize.models.patchgan import PatchDiscriminator, receptive_field
from kolorize.models.resnet_unet import ResNetUNetGenerator
from kolorize.models.unet import UNetGenerator


def test_unet_256_matches_pix2pix():
    g = UNetGenerator(1, 2, levels=8, width=64)
    assert sum(p.numel() for p in g.parameters()) == 54_409_858  # 54.4 M, as the study's
    assert len(g.downs) == len(g.ups) == 8
    dropouts = [m for m in g.modules() if isinstance(m, torch.nn.Dropout)]
    assert len(dropouts) == 3 and all(d.p == 0.5 for d in dropouts)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in g.downs[0].modules())


@pytest.mark.parametrize("levels,size", [(5, 32), (6, 64)])
def test_unet_shapes_and_range(levels, size):
    g = UNetGenerator(1, 2, levels=levels, width=4)
    out = g(torch.randn(2, 1, size, size) * 3)
    assert out.shape == (2, 2, size, size)
    assert out.abs().max() <= 1


def test_unet_rejects_a_size_it_cannot_take():
    g = UNetGenerator(levels=8, width=2)
    with pytest.raises(ValueError, match="multiples of 256"):
        g(torch.randn(1, 1, 64, 64))


def test_patchgan_gives_30x30_at_256_and_sees_70x70():
    d = PatchDiscriminator(3, width=8, layers=3)
    assert d(torch.randn(1, 3, 256, 256)).shape == (1, 1, 30, 30)
    assert receptive_field(3) == 70
    convs = [m for m in d.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.stride[0] for c in convs] == [2, 2, 2, 1, 1]
    norms = [m for m in d.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(norms) == 3  # all but the first and the last conv


def test_patchgan_receptive_field_empirically():
    """Changing one input pixel changes only the logits whose 70x70 patch covers it."""
    d = PatchDiscriminator(3, width=4, layers=3).eval()
    x = torch.randn(1, 3, 128, 128, requires_grad=True)
    d(x)[0, 0, 7, 7].backward()
    rows = x.grad.abs().sum(dim=(0, 1, 3)).nonzero()
    assert int(rows.max() - rows.min()) + 1 <= 70


def test_pix2pix_init_statistics():
    g = build_generator(GeneratorConfig(arch="unet", levels=6, width=16))
    w = g.downs[1][1].weight.detach()
    assert abs(float(w.mean())) < 0.002 and abs(float(w.std()) - 0.02) < 0.002
    d = build_discriminator(DiscriminatorConfig(width=16))
    assert abs(float(d.model[0].weight.detach().std()) - 0.02) < 0.003


def test_resnet_unet_shapes_range_and_first_conv():
    g = ResNetUNetGenerator(1, 2, width=8, depth=3)
    assert g.encoder.conv1.in_channels == 1
    out = g(torch.randn(3, 1, 48, 40))
    assert out.shape == (3, 2, 48, 40) and out.abs().max() <= 1


def test_resnet18_imagenet_weights_load_by_summing_rgb_kernels():
    import torchvision

    reference = torchvision.models.resnet18()  # random stand-in for the ImageNet weights
    g = ResNetUNetGenerator(1, 2, width=64, depth=4)
    g.encoder.load_imagenet(reference.state_dict())
    summed = reference.conv1.weight.sum(dim=1, keepdim=True)
    assert torch.equal(g.encoder.conv1.weight, summed)
    assert torch.equal(g.encoder.layer4[1].conv2.weight, reference.layer4[1].conv2.weight)
    # an L image through the adapted conv equals the gray RGB image through the original one
    x = torch.randn(1, 1, 32, 32)
    assert torch.allclose(g.encoder.conv1(x), reference.conv1(x.expand(-1, 3, -1, -1)), atol=1e-5)


def test_pretrained_generator_loads_a_local_weights_file(tmp_path):
    import torchvision

    path = tmp_path / "resnet18-f37072fd.pth"
    torch.save(torchvision.models.resnet18().state_dict(), path)
    g = build_generator(GeneratorConfig(arch="resnet18_unet", pretrained=True, weights=str(path)))
    assert g.encoder.conv1.weight.shape == (64, 1, 7, 7)
    g2 = build_generator(
        GeneratorConfig(arch="resnet18_unet", pretrained=True, weights=str(tmp_path))
    )
    assert torch.equal(g.encoder.conv1.weight, g2.encoder.conv1.weight)


def test_pretrained_offline_error_names_the_file(offline):
    from kolorize.errors import MissingWeightsError

    with pytest.raises(MissingWeightsError, match=r"resnet18-f37072fd\.pth"):
        build_generator(GeneratorConfig(arch="resnet18_unet", pretrained=True))


def test_a_classes_model_saved_before_its_optional_buffers_existed_loads_and_decodes_as_before():
    from torch.optim.swa_utils import AveragedModel

    cfg = GeneratorConfig(arch="resnet18_unet", width=8, depth=2, output="classes")
    net = build_generator(cfg).eval()
    old = {k: v for k, v in net.state_dict().items() if k not in ("chroma_gain", "flip_average")}
    again = build_generator(cfg).eval()
    again.load_state_dict(old)  # strict, as weights files and checkpoints load
    x = torch.rand(1, 1, 32, 32) * 2 - 1
    with torch.no_grad():
        assert torch.equal(again(x), net(x))
        again.chroma_gain.fill_(1.0)  # and the buffer is live: more chroma, same hue
        vivid = again(x)
    assert (vivid.norm(dim=1) >= net(x).norm(dim=1) - 1e-6).all()
    assert not torch.allclose(vivid, net(x))
    averaged = AveragedModel(build_generator(cfg))  # an EMA in a checkpoint: "module." keys
    optional = ("module.chroma_gain", "module.flip_average")
    state = {k: v for k, v in averaged.state_dict().items() if k not in optional}
    averaged.load_state_dict(state)


def test_the_flip_average_decodes_the_mean_of_the_logits_and_its_mirror():
    from kolorize.ab_bins import annealed_mean

    torch.manual_seed(4)
    cfg = GeneratorConfig(arch="resnet18_unet", width=8, depth=2, output="classes", hints=True)
    net = build_generator(cfg).eval()
    x = torch.rand(2, 4, 32, 32) * 2 - 1
    with torch.no_grad():
        net.classes.weight.normal_(0, 1)  # colours that differ across pixels
        plain = net(x)
        assert not torch.allclose(net(x.flip(-1)).flip(-1), plain, atol=1e-3)  # not symmetric
        net.flip_average.fill_(1.0)
        mirrored = net(x)
        logits = (net(x, logits=True) + net(x.flip(-1), logits=True).flip(-1)) / 2
        by_hand = annealed_mean(logits + net.logit_offset[:, None, None], net.temperature)
        by_hand = torch.nn.functional.interpolate(by_hand, size=(32, 32), mode="bilinear")
        torch.testing.assert_close(mirrored, by_hand)
        torch.testing.assert_close(net(x.flip(-1)).flip(-1), mirrored)  # mirror-symmetric now


def test_the_same_weights_and_metadata_write_the_same_bytes(tmp_path):
    import json

    from safetensors import safe_open

    from kolorize.models.files import read_generator_metadata, save_generator

    cfg = GeneratorConfig(arch="resnet18_unet", width=8, depth=2, output="classes", hints=True)
    net = build_generator(cfg)
    meta = {f"key_{i}": {"value": i, "text": "é"} for i in range(12)}  # a hash map's worth
    a = save_generator(tmp_path / "a.safetensors", net, cfg, image_size=40, **meta)
    b = save_generator(tmp_path / "b.safetensors", net, cfg, image_size=40, **meta)
    assert a.read_bytes() == b.read_bytes()  # so a shipped file's SHA-256 is reproducible
    assert int.from_bytes(a.read_bytes()[:8], "little") % 8 == 0  # the tensors start aligned
    with safe_open(str(a), "pt") as f:
        assert json.loads(f.metadata()["key_3"]) == {"value": 3, "text": "é"}
        for name, tensor in net.state_dict().items():
            assert torch.equal(f.get_tensor(name), tensor)
    assert read_generator_metadata(a)["image_size"] == 40
