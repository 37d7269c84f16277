"""``python -m evogan_lightning.sample``, kept at its documented path; the tool itself is
:mod:`evogan_lightning.tools.sample`. Re-exports ``main`` and
``load_module`` (notebooks/quickstart.ipynb)."""

import sys

from .tools.sample import load_module, main

__all__ = ["load_module", "main"]

if __name__ == "__main__":
    sys.exit(main())
