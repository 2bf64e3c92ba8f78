"""Loss and validation curves of a training history, rendered off-screen (no display, no pyplot state)."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

PANELS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("total losses", ("loss_g", "loss_d")),
    ("mel reconstruction (L1): training and held-out", ("mel", "val_mel")),
    ("KL and duration", ("kl", "duration")),
    ("discriminator, adversarial and feature matching", ("loss_d", "adversarial", "feature")),
    ("validation: WER and speaker similarity", ("val_wer", "val_speaker_similarity")),
    ("validation: DNSMOS", ("val_dnsmos",)),
)
#: What an empty panel means, said on the panel instead of leaving it blank.
EMPTY_NOTES = {
    "adversarial": "no adversarial or feature terms: the generator\ntrains on them after the discriminator warm-up\n"
    "(a run that ends within it does not train\nthe discriminator at all)",
    "val_wer": "no validation points\n(validation off, or no held-out clips)",
    "val_dnsmos": "no validation points\n(validation off, or no held-out clips)",
}


def loss_curve_png(history: Sequence[Mapping[str, float]], title: str = "training losses") -> bytes:
    """PNG bytes with one panel per group of curves, value against step."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(13, 7), dpi=80)
    FigureCanvasAgg(figure)
    axes = figure.subplots(2, 3).flatten()
    for ax, (panel_title, keys) in zip(axes, PANELS):
        for key in keys:
            points = [(row["step"], row[key]) for row in history if key in row and "step" in row]
            if points:
                steps, values = zip(*points)
                ax.plot(steps, values, label=key, marker="." if len(points) < 30 else None)
        missing = next(
            (EMPTY_NOTES[k] for k in keys if k in EMPTY_NOTES and not any(k in row for row in history)), None
        )
        if missing:
            ax.text(0.5, 0.5, missing, transform=ax.transAxes, ha="center", va="center", fontsize=9, color="0.4")
        ax.set_title(panel_title, fontsize=10)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=8)
    figure.suptitle(title)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
