import numpy as np
import pytest
import torch
from PIL import Image
from skimage import color as skcolor

from helpers.photos import real_photo_paths
from kolorize.color import (
    batch_to_model_space,
    lab_to_linear_rgb,
    lab_to_rgb,
    model_space_to_rgb,
    rgb_to_lab,
    rgb_to_model_space,
    srgb_to_linear,
    uint8_to_model_lightness_numpy,
    uint8_to_model_space_numpy,
)


@pytest.fixture(scope="module")
def photos() -> np.ndarray:
    """Eight real photos, 64x64, uint8 (N, H, W, 3)."""
    imgs = [Image.open(p).convert("RGB").resize((64, 64)) for p in real_photo_paths(8)]
    return np.stack([np.asarray(i) for i in imgs])


def _nchw(arr: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(arr)).permute(0, 3, 1, 2)


def test_rgb_to_lab_matches_scikit_image(photos):
    ours = rgb_to_lab(_nchw(photos).float() / 255).permute(0, 2, 3, 1).numpy()
    ref = skcolor.rgb2lab(photos)
    # float32 here vs float64 in scikit-image: max abs error 0.01 Lab units
    assert np.abs(ours - ref).max() < 0.01


def test_lab_to_rgb_matches_scikit_image(photos):
    lab = skcolor.rgb2lab(photos)
    ours = lab_to_rgb(torch.from_numpy(lab).permute(0, 3, 1, 2).float()).permute(0, 2, 3, 1)
    assert np.abs(ours.numpy() - skcolor.lab2rgb(lab)).max() < 1e-3


def test_round_trip_is_exact_in_double(photos):
    rgb = _nchw(photos).double() / 255
    assert torch.allclose(lab_to_rgb(rgb_to_lab(rgb)), rgb, atol=1e-10)


def test_round_trip_through_model_space_recovers_uint8(photos):
    L, ab = rgb_to_model_space(_nchw(photos))
    back = (model_space_to_rgb(L, ab) * 255).round().to(torch.uint8)
    assert (back.int() - _nchw(photos).int()).abs().max() <= 1


def test_model_space_ranges(photos):
    L, ab = rgb_to_model_space(_nchw(photos))
    assert L.shape == (8, 1, 64, 64) and ab.shape == (8, 2, 64, 64)
    assert L.min() >= -1 and L.max() <= 1
    assert ab.abs().max() <= 128 / 110


def test_extreme_colours_stay_in_range():
    corners = torch.tensor(
        [[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0]],
        dtype=torch.uint8,
    ).T.reshape(1, 3, 1, 6)
    L, ab = rgb_to_model_space(corners)
    assert L.min() >= -1 - 1e-6 and L.max() <= 1 + 1e-6 and ab.abs().max() <= 128 / 110


def test_numpy_fast_path_equals_torch_path(photos):
    fast = uint8_to_model_space_numpy(photos)
    L, ab = rgb_to_model_space(_nchw(photos).double() / 255)
    assert np.abs(fast[:, :1] - L.numpy()).max() < 1e-5
    assert np.abs(fast[:, 1:] - ab.numpy()).max() < 1e-5


def test_lightness_alone_equals_the_torch_paths_l(photos):
    every_gray = np.repeat(np.arange(256, dtype=np.uint8), 3).reshape(1, 1, 256, 3)
    for rgb in (photos, every_gray):  # the grays reach the cube root's linear segment
        L, _ = rgb_to_model_space(_nchw(rgb).double() / 255)
        fast = uint8_to_model_lightness_numpy(rgb)
        assert fast.shape == rgb.shape[:-1] and fast.dtype == np.float32
        assert np.abs(fast - L[:, 0].numpy()).max() < 1e-5
    white = uint8_to_model_lightness_numpy(np.array([255, 255, 255], np.uint8))
    assert white.shape == () and abs(float(white) - 1) < 1e-5


def test_lab_to_linear_rgb_is_lab_to_rgb_before_the_srgb_curve(photos):
    lab = rgb_to_lab(_nchw(photos).double() / 255)
    linear = lab_to_linear_rgb(lab)
    assert torch.allclose(linear, srgb_to_linear(_nchw(photos).double() / 255), atol=1e-10)


def test_batch_to_model_space_accepts_uint8_and_preconverted(photos):
    batch = _nchw(photos)
    L1, ab1 = batch_to_model_space(batch, "cpu")
    L2, ab2 = batch_to_model_space(torch.cat([L1, ab1], 1), "cpu")
    assert torch.equal(L1, L2) and torch.equal(ab1, ab2)


def test_gradients_flow_through_lab_to_rgb():
    lab = torch.tensor([[[[50.0]], [[20.0]], [[-30.0]]]], requires_grad=True)
    lab_to_rgb(lab).sum().backward()
    assert lab.grad is not None and torch.isfinite(lab.grad).all()
