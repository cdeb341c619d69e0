"""The shipped study configs say what the study report (shared/STUDY.md) says, value by value:
docs/fidelity.md lists each choice with the test that pins it."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
import yaml

from kolorize.config import RunConfig, TrainConfig, load_config

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
GAN_RUNS = {  # config file -> (GAN loss, lambda_L1)
    "vanilla_gan_20.yaml": ("vanilla", 100.0),
    "ls_gan_20.yaml": ("lsgan", 100.0),
    "vanilla_low_lambda_20.yaml": ("vanilla", 50.0),
}


def _config(name: str) -> RunConfig:
    return load_config(CONFIGS / name)


@pytest.mark.parametrize("name", ["unet_30.yaml", *GAN_RUNS])
def test_every_study_model_is_the_tutorials_generator_with_the_reports_adam(name: str) -> None:
    cfg = _config(name)
    g, t = cfg.generator, cfg.train
    assert g.arch == "resnet18_dynamic_unet" and g.pretrained  # ImageNet ResNet18 encoder
    assert (g.width, g.depth) == (64, 4)  # create_body(resnet18, cut=-2): all four stages
    assert (t.beta1, t.beta2) == (0.5, 0.99)  # the report's betas
    assert t.lr_g == t.lr_d == 2e-4 and t.batch_size == 16
    assert t.lr_decay_epochs == 0  # constant learning rate


def test_pix2pix_betas_stay_the_library_default() -> None:
    assert (TrainConfig().beta1, TrainConfig().beta2) == (0.5, 0.999)


def test_unet_30_is_l1_pretraining_for_30_epochs() -> None:
    t = _config("unet_30.yaml").train
    assert t.phase == "pretrain" and t.epochs == 30


@pytest.mark.parametrize(("name", "loss_and_lambda"), GAN_RUNS.items())
def test_gan_runs_losses_lambdas_epochs_and_patchgan(name: str, loss_and_lambda) -> None:
    cfg = _config(name)
    assert (cfg.train.gan_loss, cfg.train.lambda_l1) == loss_and_lambda
    assert cfg.train.phase == "gan" and cfg.train.epochs == 20
    assert (cfg.discriminator.width, cfg.discriminator.layers) == (64, 3)  # 70x70 PatchGAN
    assert cfg.discriminator.norm == "batch"


def test_the_five_runs_are_chained_as_in_the_report() -> None:
    runs = {r["name"]: r for r in yaml.safe_load((CONFIGS / "study.yaml").read_text())["runs"]}
    assert list(runs) == [
        "U-Net_30", "Vanilla_GAN_20", "LS_GAN_20", "LS_GAN_30", "VANILLA_LOW_LAMBDA_20"
    ]  # fmt: skip
    assert "init_from" not in runs["U-Net_30"]
    for name in ("Vanilla_GAN_20", "LS_GAN_20", "VANILLA_LOW_LAMBDA_20"):
        assert runs[name]["init_from"] == "U-Net_30"  # each GAN starts from U-Net_30
    assert runs["LS_GAN_30"] == {
        "name": "LS_GAN_30", "continue_from": "LS_GAN_20", "extra_epochs": 10
    }  # fmt: skip


def test_data_defaults_are_the_reports_subset() -> None:
    from kolorize.color import AB_SCALE, L_SCALE
    from kolorize.data.prepare import PrepareRequest

    request = PrepareRequest()
    assert (request.size, request.n, request.val) == (256, 10_000, 2_000)  # 8,000 train
    assert request.fit == "stretch"  # every image resized to 256x256
    assert (L_SCALE, AB_SCALE) == (50.0, 110.0)  # L/50 - 1 and ab/110


def test_both_optimizers_get_the_configured_adam(tiny_dataset, tmp_path) -> None:
    from kolorize.train.trainer import Trainer

    small = {"generator.pretrained": False, "generator.width": 8, "generator.depth": 2,
             "discriminator.width": 8}  # fmt: skip
    cfg = load_config(CONFIGS / "vanilla_gan_20.yaml", small)
    trainer = Trainer(cfg, tiny_dataset, tmp_path / "run", log=lambda _m: None)
    for opt in (trainer.opt_g, trainer.disc.opt):
        assert isinstance(opt, torch.optim.Adam)
        group = opt.param_groups[0]
        assert group["betas"] == (0.5, 0.99) and group["lr"] == 2e-4


def test_a_norm_the_dynamic_unet_cannot_take_is_a_user_error() -> None:
    from kolorize.errors import KolorizeError

    with pytest.raises(KolorizeError, match=r"generator\.norm does not apply"):
        load_config(CONFIGS / "unet_30.yaml", {"generator.norm": "instance"})


@pytest.mark.parametrize("bad", ["ten", -1, 2.5])
def test_extra_epochs_that_is_not_a_whole_number_is_one_clear_error(tmp_path: Path, bad) -> None:
    from kolorize.errors import KolorizeError
    from kolorize.study import load_study

    (tmp_path / "a.yaml").write_text("train: {epochs: 1}\n")
    runs = [{"name": "A", "config": "a.yaml"},
            {"name": "B", "continue_from": "A", "extra_epochs": bad}]  # fmt: skip
    (tmp_path / "s.yaml").write_text(yaml.safe_dump({"runs": runs}))
    with pytest.raises(KolorizeError, match="run B: extra_epochs must be a whole number"):
        load_study(tmp_path / "s.yaml")


@pytest.mark.parametrize("key", ["name", "continue_from", "extra_epochs"])
def test_a_yaml_bomb_in_a_study_is_refused_in_a_short_line(tmp_path: Path, key: str) -> None:
    from kolorize.errors import KolorizeError
    from kolorize.study import load_study

    anchors = ["&a0 [" + ", ".join(["1"] * 9) + "]"]
    anchors += [f"&a{k} [" + ", ".join([f"*a{k - 1}"] * 9) + "]" for k in range(1, 9)]
    bomb = "[" + ", ".join(anchors) + "]"
    (tmp_path / "a.yaml").write_text("train: {epochs: 1}\n")
    second = {"name": "B", "continue_from": "A", "extra_epochs": 1, key: "BOMB"}
    runs = [{"name": "A", "config": "a.yaml"}, second]
    (tmp_path / "s.yaml").write_text(yaml.safe_dump({"runs": runs}).replace("BOMB", bomb))
    with pytest.raises(KolorizeError) as err:
        load_study(tmp_path / "s.yaml")
    assert len(str(err.value)) < 200 + len(str(tmp_path))


def test_the_fused_adam_takes_the_reference_adams_steps() -> None:
    from kolorize.train.build import adam

    torch.manual_seed(0)
    fused_net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.Conv2d(4, 2, 1))
    reference_net, start = copy.deepcopy(fused_net), copy.deepcopy(fused_net)
    fused = adam(fused_net, 2e-4, TrainConfig(), torch.device("cpu"), capturable=False)
    reference = torch.optim.Adam(reference_net.parameters(), lr=2e-4, betas=(0.5, 0.99),
                                 foreach=False)  # fmt: skip
    assert fused.param_groups[0]["fused"]
    x = torch.randn(2, 1, 8, 8)
    for _ in range(5):
        for net, opt in ((fused_net, fused), (reference_net, reference)):
            opt.zero_grad()
            net(x).square().mean().backward()
            opt.step()
    for a, b in zip(fused_net.parameters(), reference_net.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)
    assert not torch.allclose(fused_net[0].weight, start[0].weight)  # it did take steps
