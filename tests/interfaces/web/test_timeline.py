"""The PVC page's timeline shows only the steps an attempt goes through: the ones the flow sets
(evaluating the model happens inside training, so it is no step of its own)."""

from __future__ import annotations

from types import SimpleNamespace

from interfaces.web.pages import timeline
from provoice.pvc.status import PvcStatus, PvcStep

STEPS = ["queued", "preparing data", "training", "creating voices", "charging"]


def _stages(status: PvcStatus, step: PvcStep | None = None) -> list[tuple[str, str]]:
    return [(s.name, s.state) for s in timeline(SimpleNamespace(status=status, step=step))]


def test_the_timeline_has_the_steps_the_flow_sets_and_no_evaluating_step():
    assert [name for name, _ in _stages(PvcStatus.DRAFT)] == STEPS
    assert _stages(PvcStatus.QUEUED) == [("queued", "current")] + [(n, "todo") for n in STEPS[1:]]
    assert _stages(PvcStatus.TRAINING, PvcStep.CREATING_VOICES) == [
        ("queued", "done"),
        ("preparing data", "done"),
        ("training", "done"),
        ("creating voices", "current"),
        ("charging", "todo"),
    ]
    assert _stages(PvcStatus.COMPLETED) == [(n, "done") for n in STEPS]
    assert _stages(PvcStatus.FAILED) == [("failed", "failed")]
