"""The picture of a scored series (``sunlight score --plot``): what a tuner looks at to see why
a point alerted. Top: the series, its alerts (red dots) and the labelled windows (shaded).
Bottom: the score, the threshold (dashed) and the same alerts and windows.

matplotlib draws it (with its Agg backend: a PNG file, no display needed).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

DPI = 100


def draw(path: Path, times: Sequence[float], values: Sequence[float], scores: Sequence[float],
         alerts: Sequence[bool], threshold: float, windows: Sequence[tuple[float, float]] = (),
         title: str = "", size: tuple[int, int] = (1200, 700)) -> None:
    """Write the PNG (``size`` in pixels) to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    when = [datetime.fromtimestamp(t, tz=UTC) for t in times]
    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(size[0] / DPI, size[1] / DPI),
                                      dpi=DPI, gridspec_kw={"height_ratios": [3, 2]})
    try:
        top.plot(when, values, lw=0.7, color="tab:blue", label="value")
        bottom.plot(when, scores, lw=0.7, color="tab:gray", label="score")
        bottom.axhline(threshold, ls="--", lw=1, color="tab:red", label=f"threshold {threshold:g}")
        hits = [i for i, alert in enumerate(alerts) if alert]
        if hits:
            top.scatter([when[i] for i in hits], [values[i] for i in hits], s=14,
                        color="tab:red", zorder=3, label=f"alerts ({len(hits)})")
            bottom.scatter([when[i] for i in hits], [scores[i] for i in hits], s=14,
                           color="tab:red", zorder=3)
        for k, (start, end) in enumerate(windows):
            for axis in (top, bottom):
                axis.axvspan(datetime.fromtimestamp(start, tz=UTC),
                             datetime.fromtimestamp(end, tz=UTC), color="tab:orange",
                             alpha=0.2, label="labelled window" if k == 0 and axis is top else None)
        bottom.set_ylim(0, 1)
        top.set_ylabel("value")
        bottom.set_ylabel("score")
        top.set_title(title, fontsize=10)
        top.legend(loc="upper left", fontsize=8)
        bottom.legend(loc="upper left", fontsize=8)
        fig.autofmt_xdate()
        fig.tight_layout()
        fig.savefig(path, dpi=DPI)
    finally:
        plt.close(fig)
