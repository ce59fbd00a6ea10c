"""The installed version of img2img."""

__version__ = "0.1.0"
