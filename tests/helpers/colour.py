"""Tiny generators for the colorizing tests, and measuring the lightness of results."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from kolorize.color import uint8_to_model_space_numpy
from kolorize.config import GeneratorConfig
from kolorize.models import build_generator
from kolorize.models.files import save_generator

TINY = {
    # inputs must be multiples of 2**5 = 32: the image size the files claim
    "unet": GeneratorConfig(arch="unet", width=4, levels=5),
    # any input size works
    "resnet18_unet": GeneratorConfig(arch="resnet18_unet", width=8, depth=2),
    # sides that are multiples of 2**(depth + 1) = 8
    "resnet18_dynamic_unet": GeneratorConfig(arch="resnet18_dynamic_unet", width=8, depth=2),
}


def tiny_generator(path: Path, arch: str = "unet", image_size: int = 32, **meta: Any) -> Path:
    """A random tiny generator saved as `path`, with its last layer scaled up so it paints
    strong colours (many out of the sRGB gamut): a random init alone gives near-gray output."""
    torch.manual_seed(1)
    cfg = TINY[arch]
    net = build_generator(cfg)
    last = net.ups[0][1] if arch == "unet" else net.out
    # tanh saturates at 400x; the dynamic U-Net's linear output is already strong (about +-2
    # at 2x; much more puts nearly every pixel far out of gamut)
    scale = 2 if arch == "resnet18_dynamic_unet" else 400
    with torch.no_grad():
        for p in last.parameters():
            p.mul_(scale)
    return save_generator(
        path, net.eval(), cfg, image_size=image_size, epoch=1, phase="pretrain", **meta
    )


def lightness(image: Image.Image) -> np.ndarray:
    """CIE L (0-100) of an image, (H, W)."""
    rgb = np.asarray(image.convert("RGB"))
    return (uint8_to_model_space_numpy(rgb[None])[0, 0] + 1) * 50


def chroma(image: Image.Image) -> np.ndarray:
    """Lab chroma sqrt(a^2 + b^2) of an image, (H, W)."""
    lab = uint8_to_model_space_numpy(np.asarray(image.convert("RGB"))[None])[0] * 110
    return np.hypot(lab[1], lab[2])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def live_server(app, **options) -> Iterator[str]:
    """Serve a `create_app` app on a free 127.0.0.1 port in a thread, configured as
    `kolorize serve` configures uvicorn (`options` go to `server_config`); yields its URL."""
    import uvicorn

    from kolorize.serve.app import server_config

    port = free_port()
    server = uvicorn.Server(server_config(app, host="127.0.0.1", port=port, **options))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


# The pass-through hint model's colour where no hint lies, in model units (a warm brown).
HINTLESS_AB = (0.12, 0.25)


def hint_generator(path: Path, image_size: int = 32) -> Path:
    """A tiny hint-capable resnet18_unet whose colour is known: HINTLESS_AB everywhere, except
    on a hint's patch, where it is about the hint's own ab (tanh of it). Its last block is set
    by hand to carry the hint channels through (relu(v) - relu(-v) = v), to take the hintless
    colour away where the mask is 1, and to ignore the rest of the network, so a hint colours
    its own patch and nothing else: what the tests of the CLI, the server and the page need to
    tell whether a hint arrived where it was put, which a random network would make luck."""
    cfg = GeneratorConfig(arch="resnet18_unet", width=8, depth=2, hints=True)
    torch.manual_seed(1)
    net = build_generator(cfg).eval()
    body = net.head.body  # conv, BN, ReLU, conv, BN, ReLU on [decoder features, L, a, b, mask]
    conv1, bn1, conv2, bn2 = body[0], body[1], body[3], body[4]
    features = conv1.in_channels - net.in_channels  # the hint a, b come after them and L
    with torch.no_grad():
        for conv in (conv1, conv2, net.out):
            conv.weight.zero_()
            if conv.bias is not None:
                conv.bias.zero_()
        for bn in (bn1, bn2):
            bn.reset_running_stats()
            bn.weight.fill_(1)
            bn.bias.zero_()
        for k, channel in enumerate((features + 1, features + 2)):  # hint a, hint b
            conv1.weight[2 * k, channel, 1, 1] = 1  # relu(v)
            conv1.weight[2 * k + 1, channel, 1, 1] = -1  # relu(-v)
            for j in (2 * k, 2 * k + 1):
                conv2.weight[j, j, 1, 1] = 1
            net.out.weight[k, 2 * k, 0, 0] = 1
            net.out.weight[k, 2 * k + 1, 0, 0] = -1
            net.out.bias[k] = float(np.arctanh(HINTLESS_AB[k]))
            net.out.weight[k, 4, 0, 0] = -net.out.bias[k]  # the mask: no hintless colour
        conv1.weight[4, features + 3, 1, 1] = 1  # the mask (0 or 1), carried as it is
        conv2.weight[4, 4, 1, 1] = 1
    return save_generator(path, net, cfg, image_size=image_size, epoch=1, phase="pretrain")
