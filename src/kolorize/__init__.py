"""kolorize: colorize black-and-white photos with pix2pix GANs."""

__version__ = "0.1.0"
