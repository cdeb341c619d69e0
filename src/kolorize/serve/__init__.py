"""`kolorize serve`: a small, self-contained web page for colorizing photos."""

from kolorize.serve.app import create_app, serve

__all__ = ["create_app", "serve"]
