"""The fine-tuning trainer on CPU with a tiny model: budgets, checkpoints, exact resume, OOM, conditioning."""

from __future__ import annotations

import os
import random
import shutil
import socket

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from provoice.settings import Settings
from provoice.storage import Storage
from provoice.tts.errors import TrainingError
from provoice.tts.model.config import VitsConfig
from provoice.tts.model.losses import mel_loss
from provoice.tts.model.mel import AudioFeatures
from provoice.tts.model.synthesizer import SynthesizerTrn, build_discriminator
from provoice.tts.train.batching import TrainingItem, plan_epoch, shard, split_batches
from provoice.tts.train.checkpoint import list_checkpoints, load_state
from provoice.tts.train.trainer import TrainConfig, Trainer

TIMING_KEYS = {"steps_per_s", "audio_s_per_s", "elapsed_s", "trained_s"}


def tone(cfg: VitsConfig, frames: int, f0: float) -> np.ndarray:
    """A gliding harmonic tone with a syllable-like envelope, `frames` hops long."""
    t = np.arange(frames * cfg.hop_length) / cfg.sample_rate
    phase = 2 * np.pi * np.cumsum(f0 + 30 * np.sin(2 * np.pi * 2 * t)) / cfg.sample_rate
    envelope = 0.5 + 0.5 * np.abs(np.sin(2 * np.pi * 3 * t))
    return (sum(0.3 / k * np.sin(k * phase) for k in range(1, 5)) * envelope).astype(np.float32)


def make_items(cfg: VitsConfig, n: int, embeddings: bool = False) -> list[TrainingItem]:
    rng = np.random.default_rng(7)
    return [
        TrainingItem(
            phoneme_ids=rng.integers(1, 60, 8 + i).tolist(),
            audio=tone(cfg, 24 + 4 * i, 110 + 15 * i),
            embedding=rng.standard_normal(cfg.speaker_embedding_dim).astype(np.float32) if embeddings else None,
            item_id=f"utt{i}",
        )
        for i in range(n)
    ]


def models(cfg: VitsConfig, seed: int = 0):
    torch.manual_seed(seed)
    return SynthesizerTrn(cfg), build_discriminator(cfg)


@pytest.fixture
def storage(settings) -> Storage:
    return Storage.from_settings(settings)


def quick(**overrides) -> TrainConfig:
    values = {"batch_size": 2, "device": "cpu", "log_every": 1, "checkpoint_every": 1000, "learning_rate": 1e-3}
    values.update(overrides)
    return TrainConfig(**values)


def test_batch_plans_are_bucketed_deterministic_and_complete():
    lengths = [50, 10, 40, 20, 30, 60, 70, 80, 15, 25]
    plan = plan_epoch(lengths, batch_size=2, seed=3, epoch=0, bucket_batches=2)
    assert plan == plan_epoch(lengths, batch_size=2, seed=3, epoch=0, bucket_batches=2)
    assert plan != plan_epoch(lengths, batch_size=2, seed=3, epoch=1, bucket_batches=2)
    assert sorted(i for batch in plan for i in batch) == list(range(len(lengths)))
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    buckets = [set(order[k : k + 4]) for k in range(0, len(order), 4)]
    assert all(any(set(batch) <= bucket for bucket in buckets) for batch in plan)
    assert split_batches([[1, 2, 3], [4]], 2) == [[1, 2], [3], [4]]
    assert shard([[0], [1], [2], [3], [4]], 1, 2) == [[1], [3]]


def test_trains_a_few_steps_and_writes_checkpoints_history_and_curve(storage, single_thread):
    cfg = VitsConfig.tiny()
    generator, discriminator = models(cfg)
    records, saved = [], []
    result = Trainer(
        make_items(cfg, 4),
        generator,
        discriminator,
        quick(max_steps=4, checkpoint_every=2, keep_checkpoints=1),
        storage,
        "runs/basic",
        on_metrics=records.append,
        on_checkpoint=lambda key, step: saved.append((key, step)),
    ).run()
    assert (result.step, result.stopped_by, result.resumed_from) == (4, "max_steps", None)
    assert [r["step"] for r in records] == [1, 2, 3, 4] and result.history == records
    assert {
        "loss_g",
        "loss_d",
        "mel",
        "kl",
        "duration",
        "adversarial",
        "feature",
        "lr_g",
        "steps_per_s",
        "audio_s_per_s",
        "grad_norm_g",
    } <= set(records[0])
    assert all(np.isfinite(r["loss_g"]) for r in records)
    assert records[-1]["lr_g"] == pytest.approx(1e-3 * 0.999875**4)
    assert [step for _, step in saved] == [2, 4]
    assert [step for step, _ in list_checkpoints(storage, "runs/basic")] == [4]
    assert result.checkpoint_key == "runs/basic/checkpoints/step-000000004.pt"
    assert storage.read_json(result.history_key) == records
    assert storage.read_bytes(result.loss_curve_key)[:8] == b"\x89PNG\r\n\x1a\n"
    print(
        f"tiny config, batch 2, 1 CPU thread: {np.mean([r['steps_per_s'] for r in records[1:]]):.1f} steps/s, "
        f"{np.mean([r['audio_s_per_s'] for r in records[1:]]):.1f} audio-s/s"
    )


def test_overfits_one_utterance(storage, single_thread, tmp_path):
    """Full-utterance reconstruction (posterior mean through the decoder) improves; measured through
    the validation hook, which also proves the hook runs on schedule."""
    cfg = VitsConfig.tiny()
    if shutil.which("espeak-ng"):
        from provoice.audio.wavio import read_slice
        from provoice.synthetic import speak

        audio = read_slice(speak("hello there", tmp_path / "hello.wav"), 0, 1e9)[: 64 * cfg.hop_length]
    else:
        audio = tone(cfg, 64, 140)
    item = TrainingItem(list(range(3, 17)), audio, None, "hello")
    features = AudioFeatures(cfg)
    wave = torch.from_numpy(audio[: len(audio) // cfg.hop_length * cfg.hop_length]).unsqueeze(0)
    spec = features.spectrogram(wave)

    def reconstruction(generator: SynthesizerTrn, step: int) -> dict[str, float]:
        assert not generator.training
        with torch.no_grad():
            _, m_q, _, _ = generator.enc_q(spec, torch.tensor([spec.size(2)]))
            return {"mel": mel_loss(features.mel(wave), features.mel(generator.dec(m_q))).item()}

    generator, discriminator = models(cfg)
    before = reconstruction(generator.eval(), 0)["mel"]
    result = Trainer(
        [item],
        generator,
        discriminator,
        quick(max_steps=50, batch_size=1, validate_every=25, log_every=5),
        storage,
        "runs/overfit",
        validate=reconstruction,
    ).run()
    validations = [r for r in result.history if "val_mel" in r]
    assert [r["step"] for r in validations] == [25, 50]
    after = validations[-1]["val_mel"]
    train_mel = [r["mel"] for r in result.history if "mel" in r]
    print(
        f"full-utterance mel L1 {before:.3f} -> {after:.3f}; training mel L1 {train_mel[0]:.3f} -> {train_mel[-1]:.3f}"
    )
    assert after < 0.7 * before
    assert train_mel[-1] < train_mel[0]


def test_stop_and_resume_is_bit_exact(storage, single_thread):
    cfg = VitsConfig.tiny()
    items = make_items(cfg, 3)
    config = quick(batch_size=1, checkpoint_every=3, max_steps=7)

    def noisy_validation(generator: SynthesizerTrn, step: int) -> dict[str, float]:
        """Draws from every global generator; the trainer must keep that out of the training streams."""
        random.random()
        np.random.rand()
        audio = generator.infer(torch.tensor([[1, 2, 3]]), torch.tensor([3])).audio
        return {"rms": float(audio.pow(2).mean().sqrt())}

    g_a, d_a = models(cfg)
    straight = Trainer(
        items,
        g_a,
        d_a,
        TrainConfig.from_dict({**config.to_dict(), "validate_every": 2}),
        storage,
        "runs/straight",
        validate=noisy_validation,
    ).run()

    g_b, d_b = models(cfg)
    first = Trainer(
        items, g_b, d_b, TrainConfig.from_dict({**config.to_dict(), "max_steps": 4}), storage, "runs/split"
    ).run()
    assert (first.step, first.epoch) == (4, 1), "stopped in the middle of the second epoch"
    g_c, d_c = models(cfg, seed=42)
    resumed = Trainer(items, g_c, d_c, config, storage, "runs/split").run()
    assert resumed.resumed_from == "runs/split/checkpoints/step-000000004.pt"

    for a, c in ((g_a, g_c), (d_a, d_c)):
        for (name, pa), (_, pc) in zip(a.state_dict().items(), c.state_dict().items()):
            assert torch.equal(pa, pc), name
    losses = [{k: v for k, v in r.items() if k not in TIMING_KEYS} for r in straight.history if "loss_g" in r]
    assert [{k: v for k, v in r.items() if k not in TIMING_KEYS} for r in resumed.history] == losses
    assert resumed.history[4]["loss_g"] == losses[4]["loss_g"], "the first step after the resume"
    state_a = load_state(storage, straight.checkpoint_key)
    state_c = load_state(storage, resumed.checkpoint_key)
    for opt in ("opt_g", "opt_d"):
        for k, s in state_a[opt]["state"].items():
            assert all(torch.equal(s[n], state_c[opt]["state"][k][n]) for n in s)
    print(f"resume at step 4 of 7: next loss_g {resumed.history[4]['loss_g']:.6f} (identical), all parameters equal")


def test_budget_by_minutes_and_finished_runs(storage, single_thread):
    cfg = VitsConfig.tiny()
    items = make_items(cfg, 2)
    generator, discriminator = models(cfg)
    result = Trainer(items, generator, discriminator, quick(max_minutes=0.01), storage, "runs/minutes").run()
    assert result.stopped_by == "max_minutes" and result.step >= 1
    assert result.checkpoint_key.endswith(f"step-{result.step:09d}.pt")

    again = Trainer(items, *models(cfg), quick(max_steps=result.step), storage, "runs/minutes").run()
    assert (again.stopped_by, again.step, again.resumed_from) == ("max_steps", result.step, result.checkpoint_key)
    assert again.history == result.history


def test_cuda_out_of_memory_halves_the_batch(storage, single_thread, monkeypatch):
    cfg = VitsConfig.tiny()
    real_step = Trainer.train_step
    sizes = []

    def step_that_runs_out_once(self, batch):
        sizes.append(batch.size)
        if batch.size == 4:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return real_step(self, batch)

    monkeypatch.setattr(Trainer, "train_step", step_that_runs_out_once)
    result = Trainer(
        make_items(cfg, 8), *models(cfg), quick(batch_size=4, bucket_batches=2, max_steps=3), storage, "runs/oom"
    ).run()
    assert sizes[0] == 4 and sizes[1:] == [2, 2, 2]
    assert result.step == 3 and result.batch_size == 2
    assert [r["batch_size"] for r in result.history] == [2, 2, 2]
    assert load_state(storage, result.checkpoint_key)["batch_cap"] == 2

    def always_out_of_memory(self, batch):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")

    monkeypatch.setattr(Trainer, "train_step", always_out_of_memory)
    with pytest.raises(TrainingError, match="single utterance"):
        Trainer(make_items(cfg, 1), *models(cfg), quick(batch_size=1, max_steps=1), storage, "runs/oom1").run()


def test_speaker_embeddings_condition_training(storage, single_thread):
    cfg = VitsConfig.tiny(gin_channels=8)
    generator, discriminator = models(cfg)
    assert torch.count_nonzero(generator.voice.cond_proj.weight) == 0
    Trainer(
        make_items(cfg, 2, embeddings=True), generator, discriminator, quick(max_steps=2), storage, "runs/cond"
    ).run()
    assert torch.count_nonzero(generator.voice.cond_proj.weight) > 0, "the embedding's gradient reached cond_proj"

    with pytest.raises(ValueError, match="speaker embedding"):
        Trainer(make_items(cfg, 2), *models(cfg), quick(max_steps=1), storage, "runs/cond-missing").run()


def test_unalignable_items_are_skipped_and_changed_items_refuse_to_resume(storage, single_thread):
    cfg = VitsConfig.tiny()
    items = make_items(cfg, 2)
    too_short = TrainingItem(list(range(1, 40)), tone(cfg, 10, 120), None, "too-short")
    result = Trainer([*items, too_short], *models(cfg), quick(max_steps=1), storage, "runs/skip").run()
    assert result.skipped_items == ["too-short"]
    with pytest.raises(TrainingError, match="training items differ"):
        Trainer(items[:1], *models(cfg), quick(max_steps=2), storage, "runs/skip").run()
    with pytest.raises(TrainingError, match="no usable"):
        Trainer([too_short], *models(cfg), quick(max_steps=1), storage, "runs/none").run()


def test_resumes_from_s3(s3_settings, single_thread):
    cfg = VitsConfig.tiny()
    storage = Storage.from_settings(s3_settings)
    items = make_items(cfg, 2)
    Trainer(items, *models(cfg), quick(max_steps=1), storage, "runs/s3").run()
    result = Trainer(items, *models(cfg), quick(max_steps=2), storage, "runs/s3").run()
    assert result.resumed_from == "runs/s3/checkpoints/step-000000001.pt" and result.step == 2
    assert storage.exists("runs/s3/loss_curve.png")


def _ddp_worker(rank: int, world_size: int, root: str, port: int) -> None:
    os.environ.update(
        WORLD_SIZE=str(world_size), RANK=str(rank), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port)
    )
    torch.set_num_threads(1)
    cfg = VitsConfig.tiny(gin_channels=8)
    storage = Storage(f"file://{root}/store", Settings(home=root))
    generator, discriminator = models(cfg)
    result = Trainer(
        make_items(cfg, 4, embeddings=True),
        generator,
        discriminator,
        quick(max_steps=2, max_minutes=5),
        storage,
        "runs/ddp",
    ).run()
    torch.save(
        {"generator": generator.state_dict(), "step": result.step, "history": result.history}, f"{root}/rank{rank}.pt"
    )


def test_two_process_ddp_on_cpu(tmp_path):
    """torchrun's environment on two CPU processes (Gloo): ranks stay in sync, rank 0 alone writes."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_ddp_worker, args=(2, str(tmp_path), port), nprocs=2)
    ranks = [torch.load(tmp_path / f"rank{r}.pt") for r in range(2)]
    assert ranks[0]["step"] == ranks[1]["step"] == 2
    initial = models(VitsConfig.tiny(gin_channels=8))[0].state_dict()
    for name, value in ranks[0]["generator"].items():
        assert torch.equal(value, ranks[1]["generator"][name]), name
    assert not torch.equal(ranks[0]["generator"]["voice.cond_proj.weight"], initial["voice.cond_proj.weight"])
    assert sorted(os.listdir(tmp_path / "store" / "runs" / "ddp" / "checkpoints")) == ["step-000000002.pt"]


def scripted_validation(scores_by_step: dict, seen: dict):
    """A validate callback that reports the given (WER, similarity) per step and keeps a copy of the
    generator's weights at each, so a test can tell which step's weights came back."""

    def validate(generator, step):
        seen[step] = {k: v.detach().clone() for k, v in generator.state_dict().items()}
        wer, sim = scores_by_step.get(step, (0.9, 0.1))
        return {"wer": wer, "speaker_similarity": sim}

    return validate


def test_validation_exports_the_best_step_not_the_last(storage, single_thread):
    cfg = VitsConfig.tiny()
    generator, discriminator = models(cfg)
    seen: dict = {}
    # The words break after step 4 (WER 0.6): similarity alone would prefer step 8.
    scores = {0: (0.05, 0.3), 2: (0.10, 0.6), 4: (0.08, 0.7), 6: (0.60, 0.95), 8: (0.70, 0.97)}
    result = Trainer(
        make_items(cfg, 4),
        generator,
        discriminator,
        quick(max_steps=8, validate_every=2, validate_at_start=True, keep_best=2, validation_budget=100),
        storage,
        "runs/best",
        validate=scripted_validation(scores, seen),
    ).run()
    assert result.step == 8 and result.best_step == 4
    assert result.best_key == "runs/best/best/step-000000004.pt"
    assert sorted(storage.list("runs/best/best")) == [
        "runs/best/best/step-000000002.pt",
        "runs/best/best/step-000000004.pt",
    ]
    final = generator.state_dict()
    assert all(torch.equal(final[k], seen[4][k]) for k in final)
    assert not all(torch.equal(seen[8][k], seen[4][k]) for k in final)
    validated = [r["step"] for r in result.history if "val_wer" in r]
    assert validated == [0, 2, 4, 6, 8]
    # The newest checkpoint keeps the last step's weights, so a resume trains on from there.
    state = load_state(storage, list_checkpoints(storage, "runs/best")[-1][1])
    assert state["step"] == 8


def test_early_stop_fires_and_a_resume_stays_stopped(storage, single_thread):
    cfg = VitsConfig.tiny()
    seen: dict = {}
    scores = {2: (0.1, 0.8)}  # every later point is worse
    config = quick(max_steps=20, validate_every=2, early_stop_patience=4, validation_budget=100)
    result = Trainer(
        make_items(cfg, 4), *models(cfg), config, storage, "runs/stop", validate=scripted_validation(scores, seen)
    ).run()
    assert result.stopped_by == "early_stop" and result.step == 6 and result.best_step == 2
    again = Trainer(
        make_items(cfg, 4),
        *models(cfg),
        quick(max_steps=40, validate_every=2, early_stop_patience=4, validation_budget=100),
        storage,
        "runs/stop",
        validate=scripted_validation(scores, seen),
    ).run()
    assert again.stopped_by == "early_stop" and again.step == 6 and again.best_step == 2


def test_validation_stays_within_its_share_of_the_time(storage, single_thread):
    import time as clock

    cfg = VitsConfig.tiny()

    def slow(generator, step):
        clock.sleep(0.5)
        return {"wer": 0.1, "speaker_similarity": 0.5}

    result = Trainer(
        make_items(cfg, 4),
        *models(cfg),
        quick(max_steps=6, validate_every=1, validation_budget=0.01),
        storage,
        "runs/budget",
        validate=slow,
    ).run()
    validated = [r["step"] for r in result.history if "val_wer" in r]
    assert validated[0] == 1 and validated[-1] == 6 and len(validated) < 6  # the end point is always taken


def test_frozen_modules_keep_their_weights_and_kl_ramps_in(storage, single_thread):
    cfg = VitsConfig.tiny()
    generator, discriminator = models(cfg)
    before = {k: v.clone() for k, v in generator.state_dict().items()}
    trainer = Trainer(
        make_items(cfg, 4),
        generator,
        discriminator,
        quick(max_steps=3, module_lr={"enc_p": 0.0, "dp": 0.5}, kl_warmup_steps=4),
        storage,
        "runs/freeze",
    )
    assert trainer._weights().kl == 0.0
    trainer.run()
    after = generator.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in after if k.startswith("enc_p."))
    assert any(not torch.equal(before[k], after[k]) for k in after if k.startswith("dp."))
    assert any(not torch.equal(before[k], after[k]) for k in after if k.startswith("dec."))
    assert trainer._weights().kl == trainer.config.loss_weights.kl * 3 / 4
    with pytest.raises(ValueError, match="module_lr takes multipliers"):
        quick(module_lr={"decoder": 1.0})


def test_a_sub_module_rate_overrides_its_parent(storage, single_thread):
    cfg = VitsConfig.tiny(gin_channels=8)
    generator, discriminator = models(cfg)
    with torch.no_grad():
        generator.voice.cond_proj.weight.normal_(0, 0.1)
    before = {k: v.clone() for k, v in generator.state_dict().items()}
    Trainer(
        make_items(cfg, 4, embeddings=True),
        generator,
        discriminator,
        quick(max_steps=2, module_lr={"voice": 2.0, "voice.dp": 0.0}),
        storage,
        "runs/sub",
    ).run()
    after = generator.state_dict()
    assert torch.equal(before["voice.dp.weight"], after["voice.dp.weight"])
    assert not torch.equal(before["voice.dec.weight"], after["voice.dec.weight"])
    assert quick(max_steps=1, module_lr={"voice.flow.0": 0.5}).module_lr == {"voice.flow.0": 0.5}


def test_prior_path_decoding_trains_the_flow_through_the_mel_loss(single_thread):
    cfg = VitsConfig.tiny()
    generator, _ = models(cfg)
    items = make_items(cfg, 2)
    from provoice.tts.model.losses import target_segment
    from provoice.tts.train.batching import collate

    batch = collate(items, cfg.hop_length, cfg.sample_rate, cfg.conditioned)
    features = AudioFeatures(cfg)
    spec = features.spectrogram(batch.audio)
    for prior_items, reaches_flow in ((0, False), (1, True)):
        generator.zero_grad(set_to_none=True)
        torch.manual_seed(0)
        out = generator(batch.phoneme_ids, batch.phoneme_lengths, spec, batch.frame_lengths, prior_items=prior_items)
        mel_loss(features.mel(target_segment(batch.audio, out, cfg.hop_length)), features.mel(out.audio)).backward()
        flow_grad = sum(float(p.grad.abs().sum()) for p in generator.flow.parameters() if p.grad is not None)
        assert (flow_grad > 0) == reaches_flow
    with pytest.raises(ValueError, match="prior_decode_fraction"):
        quick(prior_decode_fraction=1.5)


def test_a_discriminator_the_run_would_never_use_is_not_trained(storage, single_thread):
    cfg = VitsConfig.tiny()
    generator, discriminator = models(cfg)
    before = {k: v.clone() for k, v in discriminator.state_dict().items()}
    short = Trainer(
        make_items(cfg, 4), generator, discriminator, quick(max_steps=3, disc_warmup_steps=5), storage, "runs/disc-off"
    )
    short.run()
    assert short.progress.discriminator_off
    assert all(torch.equal(before[k], v) for k, v in discriminator.state_dict().items())
    assert load_state(storage, list_checkpoints(storage, "runs/disc-off")[-1][1])["discriminator_off"]

    generator, discriminator = models(cfg)
    long = Trainer(
        make_items(cfg, 4), generator, discriminator, quick(max_steps=6, disc_warmup_steps=5), storage, "runs/disc-on"
    )
    long.run()
    assert not long.progress.discriminator_off
    assert any(not torch.equal(before[k], v) for k, v in discriminator.state_dict().items())
    assert "adversarial" in long.progress.history[-1] and "adversarial" not in long.progress.history[0]

    generator, discriminator = models(cfg)  # a time budget decides after a few measured steps
    timed = Trainer(
        make_items(cfg, 4),
        generator,
        discriminator,
        quick(max_minutes=0.03, disc_warmup_steps=1_000_000),
        storage,
        "runs/disc-timed",
    )
    result = timed.run()
    assert timed.progress.discriminator_off and result.step > 3
    assert all("loss_d" not in r for r in result.history if r["step"] > 3 and "mel" in r)
    assert all("loss_d" in r for r in result.history if r["step"] <= 3 and "mel" in r)
