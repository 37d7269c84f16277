"""Long plot titles are wrapped to the figure's width instead of being clipped (evogan_lightning/run/figures.py)."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from evogan_lightning.callbacks.figures import wrap_title  # noqa: E402


def test_a_long_title_stays_inside_a_narrow_figure():
    title = (
        "cegan: crossover: share of rows taught by the other parent (C-filtered teacher rows per generation)"
    )
    fig, ax = plt.subplots(figsize=(4.5, 3.2), dpi=100)
    text = fig.suptitle(wrap_title(title, fig.get_figwidth(), 11), fontsize=11)
    fig.tight_layout()
    fig.canvas.draw()
    box = text.get_window_extent(renderer=fig.canvas.get_renderer())
    assert box.x0 >= 0 and box.x1 <= fig.bbox.width  # not clipped left or right
    assert wrap_title(title, 4.5, 11).count("\n") >= 1 and wrap_title("short", 4.5) == "short"
    plt.close(fig)
