"""``python -m evogan_lightning.summarize``, kept at its documented path; the tool itself is
:mod:`evogan_lightning.tools.summarize`. Re-exports ``main`` and what
notebooks/results.ipynb uses (``collect_runs``, ``main_metric``, ``settings``, ``summarize``)."""

import sys

from .tools.summarize import collect_runs, main, main_metric, settings, summarize

__all__ = ["collect_runs", "main_metric", "settings", "summarize", "main"]

if __name__ == "__main__":
    sys.exit(main())
