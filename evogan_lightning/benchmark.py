"""``python -m evogan_lightning.benchmark``, kept at its documented path; the tool itself is
:mod:`evogan_lightning.tools.benchmark`."""

import sys

from .tools.benchmark import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
