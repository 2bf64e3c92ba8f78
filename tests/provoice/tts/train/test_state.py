"""The train state saves and restores itself under the checkpoint keys every run so far has used."""

from __future__ import annotations

import torch

from provoice.tts.train.state import Progress, Stage, TrainState


def stage(name: str, tag: str, seed: int) -> Stage:
    torch.manual_seed(seed)
    module = torch.nn.Linear(3, 2)
    optimizer = torch.optim.AdamW(module.parameters(), 1e-2)
    return Stage(name, tag, module, optimizer, torch.optim.lr_scheduler.ExponentialLR(optimizer, 0.5))


def test_a_state_round_trips_under_the_flat_checkpoint_keys():
    trained = TrainState(
        (stage("generator", "g", 0), stage("discriminator", "d", 1)),
        Progress(step=2, plan=[[0, 1]], history=[{"step": 1.0}], discriminator_off=True),
    )
    for s in trained.stages:
        s.module(torch.ones(1, 3)).sum().backward()
        s.optimizer.step()
        s.scheduler.step()
    saved = trained.state_dict()
    assert {
        "generator",
        "opt_g",
        "sched_g",
        "discriminator",
        "opt_d",
        "sched_d",
        "step",
        "plan",
        "history",
        "batch_cap",
        "trained_s",
        "early_stopped",
        "discriminator_off",
    } <= set(saved)

    fresh = TrainState((stage("generator", "g", 5), stage("discriminator", "d", 6)))
    fresh.load_state_dict(saved)
    assert fresh.progress == trained.progress
    for a, b in zip(trained.stages, fresh.stages):
        assert all(torch.equal(a.module.state_dict()[k], v) for k, v in b.module.state_dict().items())
        assert b.scheduler.get_last_lr() == a.scheduler.get_last_lr()
        assert b.optimizer.state_dict()["state"][0]["step"] == a.optimizer.state_dict()["state"][0]["step"]


def test_fields_a_checkpoint_lacks_take_their_defaults():
    progress = Progress(trained_s=9.0, discriminator_off=True)
    progress.load_state_dict({"step": 4, "epoch": 1, "position": 2, "plan": [[0]], "batch_cap": None, "history": []})
    assert progress == Progress(step=4, epoch=1, position=2, plan=[[0]])
