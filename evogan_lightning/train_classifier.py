"""``python -m evogan_lightning.train_classifier``, kept at its documented path; the tool itself is
:mod:`evogan_lightning.tools.train_classifier`."""

import sys

from .tools.train_classifier import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
