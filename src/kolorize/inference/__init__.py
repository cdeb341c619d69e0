"""Colorizing with a trained generator.

colorizer.py  `Colorizer`: PIL photos of any size -> colour at their full resolution
recombine.py  the photo's full-resolution L + the model's small ab, kept in sRGB gamut
backends.py   the model call: a PyTorch generator or an exported ONNX model (onnxruntime)
tensors.py    `colorize_tensors`: uint8 tensor batches already at the model's size, as evaluation
              and the report colour them

`kolorize.Colorizer` is the public entry.
"""
