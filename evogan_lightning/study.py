"""``python -m evogan_lightning.study``, kept at its documented path; the tool itself is
:mod:`evogan_lightning.tools.study`."""

import sys

from .tools.study import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
