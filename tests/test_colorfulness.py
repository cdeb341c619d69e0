import math

import numpy as np
import pytest
import torch
from PIL import Image

from helpers.photos import real_photo_paths
from kolorize.evaluate.colorfulness import colorfulness


def _nchw(pixels: list[list[tuple[int, int, int]]]) -> torch.Tensor:
    return torch.tensor(pixels, dtype=torch.uint8).permute(2, 0, 1)[None]


def test_worked_example_red_green_blue_white():
    # pixels R, G, B, white:
    #   rg = R - G            = [255, -255, 0, 0]       mean 0, var (2 * 255^2) / 4 = 32512.5
    #   yb = (R + G) / 2 - B  = [127.5, 127.5, -255, 0] mean 0,
    #                           var (2 * 127.5^2 + 255^2) / 4 = 24384.375
    #   C = sqrt(32512.5 + 24384.375) + 0.3 * 0 = sqrt(56896.875) = 238.5307...
    img = _nchw([[(255, 0, 0), (0, 255, 0)], [(0, 0, 255), (255, 255, 255)]])
    assert colorfulness(img).item() == pytest.approx(math.sqrt(56896.875), rel=1e-12)


def test_worked_example_a_flat_colour_scores_only_its_mean():
    # every pixel (200, 100, 50): rg = 100, yb = 150 - 50 = 100, no spread
    #   C = 0 + 0.3 * sqrt(100^2 + 100^2) = 0.3 * 141.421... = 42.426...
    img = _nchw([[(200, 100, 50)] * 3] * 2)
    assert colorfulness(img).item() == pytest.approx(0.3 * math.sqrt(20000), rel=1e-12)


def test_gray_is_zero_and_each_image_is_scored_alone():
    gray = torch.full((1, 3, 8, 8), 77, dtype=torch.uint8)
    vivid = _nchw([[(255, 0, 0), (0, 255, 0)], [(0, 0, 255), (255, 255, 255)]])
    vivid = torch.nn.functional.interpolate(vivid.float(), size=8, mode="nearest").byte()
    both = colorfulness(torch.cat([gray, vivid]))
    assert both[0].item() == 0
    assert both[1].item() == pytest.approx(colorfulness(vivid).item())


def test_matches_numpy_on_real_photos_in_uint8_and_float():
    for path in real_photo_paths(3):
        rgb = np.asarray(Image.open(path).convert("RGB").resize((48, 40)), dtype=np.float64)
        r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
        rg, yb = r - g, 0.5 * (r + g) - b
        expected = np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean())
        u8 = torch.from_numpy(rgb.astype(np.uint8)).permute(2, 0, 1)[None]
        assert colorfulness(u8).item() == pytest.approx(expected, rel=1e-10)
        assert colorfulness(u8.double()).item() == pytest.approx(expected, rel=1e-10)


def test_rejects_a_wrong_layout():
    with pytest.raises(ValueError, match="N, 3, H, W"):
        colorfulness(torch.zeros(1, 8, 8, 3))
