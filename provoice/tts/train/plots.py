"""Loss-curve image of a training history, rendered off-screen (no display, no pyplot state)."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

PANELS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("total losses", ("loss_g", "loss_d")),
    ("mel reconstruction (L1)", ("mel", "val_mel")),
    ("KL and duration", ("kl", "duration")),
    ("adversarial and feature matching", ("adversarial", "feature")),
)


def loss_curve_png(history: Sequence[Mapping[str, float]], title: str = "training losses") -> bytes:
    """PNG bytes with one panel per loss group, loss against step."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10, 7), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.subplots(2, 2).flatten()
    for ax, (panel_title, keys) in zip(axes, PANELS):
        for key in keys:
            points = [(row["step"], row[key]) for row in history if key in row and "step" in row]
            if points:
                steps, values = zip(*points)
                ax.plot(steps, values, label=key, marker="." if len(points) < 30 else None)
        ax.set_title(panel_title)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend()
    figure.suptitle(title)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
