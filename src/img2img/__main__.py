"""``python -m img2img``: the same as the ``img2img`` command."""

from img2img.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
