"""``python -m evogan_lightning.evaluate``, kept at its documented path; the tool itself is
:mod:`evogan_lightning.tools.evaluate`. Re-exports ``main`` and
``evaluate_module`` (notebooks/quickstart.ipynb)."""

import sys

from .tools.evaluate import evaluate_module, main

__all__ = ["evaluate_module", "main"]

if __name__ == "__main__":
    sys.exit(main())
