"""Plot legibility: every confusion-matrix count is readable on its own cell colour."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
from matplotlib.colors import to_rgb

from server.ml.plots import confusion_figure, contrast_ratio


@pytest.mark.parametrize("counts", [(221, 34, 15, 30), (5000, 3, 2, 900), (0, 0, 0, 0), (10, 10, 10, 10)])
def test_confusion_counts_contrast_with_their_cells(counts):
    """WCAG AA (4.5:1) between each count's text colour and the cell it sits on, dark cells included."""
    tn, fp, fn, tp = counts
    fig = confusion_figure({"tn": tn, "fp": fp, "fn": fn, "tp": tp, "threshold": 0.5})
    try:
        ax = fig.axes[0]
        image = ax.images[0]
        assert len(ax.texts) == 4
        for (row, col), value in {(0, 0): tn, (0, 1): fp, (1, 0): fn, (1, 1): tp}.items():
            text = next(t for t in ax.texts if t.get_position() == (col, row))
            assert text.get_text() == str(value)
            cell = image.cmap(image.norm(image.get_array()[row, col]))
            assert contrast_ratio(to_rgb(text.get_color()), cell) >= 4.5, (value, text.get_color(), cell)
    finally:
        plt.close(fig)


def test_contrast_ratio_matches_wcag_extremes():
    assert contrast_ratio((0, 0, 0), (1, 1, 1)) == pytest.approx(21.0)
    assert contrast_ratio((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)) == pytest.approx(1.0)
