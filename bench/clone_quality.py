"""Clone quality: does a fine-tune on a speaker unlike the base keep the words and gain the voice?

1. Generate a target speaker reading varied template sentences (about 15 minutes of speech):
   `--voice far` (default) is a British woman made from a real person's voice model
   (`bench/far_voice.py`), `--voice espeak` the espeak-ng `en-gb+f3` voice the recipe was first
   developed on. Both are far from the base, a US man.
2. Ingest and prepare it (the product's flows), import the offline base model.
3. Score the real speaker reading the evaluation sentences, and the base model (the floor).
4. `--variant NAME --steps N` trains one recipe variant on the same data for N steps and scores it;
   `--resume M` continues the variant's M-step run (its checkpoints, kept best points and history)
   to N steps, which gives the curve against training time. Runs of different variants can go
   side by side (`--threads 1` each).
5. `--report` tables every run next to the base and the real speaker in docs/BENCHMARKS.md.

Results are cached under `<work>` (`results.json`, `runs/<variant>-<steps>.json`), so a re-run only
does what is missing.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import code_version, ingest, log, machine, machine_line, prefect_server, set_env, write_sections

ESPEAK_VOICE = "en-gb+f3"
SUBJECTS = [
    "The old farmer",
    "My younger brother",
    "A tired nurse",
    "The new teacher",
    "Our quiet neighbour",
    "The city council",
    "A young painter",
    "The head chef",
    "Her best friend",
    "The night guard",
    "A local reporter",
    "The museum guide",
    "Two small children",
    "The factory manager",
]
VERBS = [
    "carried",
    "repaired",
    "described",
    "painted",
    "ordered",
    "collected",
    "delivered",
    "measured",
    "borrowed",
    "cleaned",
    "discovered",
    "photographed",
    "returned",
    "opened",
]
OBJECTS = [
    "a heavy wooden chair",
    "the broken garden gate",
    "three baskets of apples",
    "a letter from Spain",
    "the silver kettle",
    "a map of the northern coast",
    "the blue bicycle",
    "a box of old records",
    "the kitchen window",
    "a bag of warm bread",
    "the station clock",
    "a pair of leather boots",
]
PLACES = [
    "near the harbour",
    "behind the school",
    "at the busy market",
    "in the small village",
    "beside the frozen lake",
    "across the wide bridge",
    "inside the empty theatre",
    "along the railway",
]
TIMES = [
    "early on Monday",
    "before the storm",
    "late last night",
    "during the holidays",
    "after lunch",
    "every autumn",
    "on a sunny morning",
    "just before dinner",
]


def sentences(count: int, seed: int = 7) -> list[str]:
    """Varied, grammatical and reproducible: no sentence repeats, no evaluation sentence appears."""
    rng, out, seen = random.Random(seed), [], set()
    while len(out) < count:
        s = " ".join(rng.choice(words) for words in (SUBJECTS, VERBS, OBJECTS, PLACES, TIMES)) + "."
        if s not in seen:
            seen.add(s)
            out.append(s)
    return out


#: name -> (what it tests, TrainConfig overrides on top of the product recipe's config). Every
#: variant trains the same model from the same bundle for the same number of steps.
VARIANTS: dict[str, tuple[str, dict]] = {
    "text-locked": (
        "the product recipe (`RECIPE`): text encoder, duration predictor and the voice's biases on them "
        "frozen, learning rate 2e-4, batch 8",
        {"module_lr": {"enc_p": 0.0, "dp": 0.0, "voice.enc_p": 0.0, "voice.dp": 0.0}, "learning_rate": 2e-4},
    ),
    "dec-slow": (
        "text-locked with the decoder's own weights at a tenth of the rate (its voice bias at the full "
        "rate): trained on the mel loss alone, a fine-tuned decoder buzzes at the frame rate (86 Hz)",
        {
            "module_lr": {"enc_p": 0.0, "dp": 0.0, "voice.enc_p": 0.0, "voice.dp": 0.0, "dec": 0.1, "voice.dec": 1.0},
            "learning_rate": 2e-4,
        },
    ),
    "text-prior": (
        "text-locked, but the text encoder and the voice's bias on it train at a quarter of the rate, so "
        "the prior can move to the new voice while the durations stay the base's",
        {"module_lr": {"enc_p": 0.25, "voice.enc_p": 0.25, "dp": 0.0, "voice.dp": 0.0}, "learning_rate": 2e-4},
    ),
    "lr-x2": (
        "text-locked at twice the learning rate (4e-4)",
        {"module_lr": {"enc_p": 0.0, "dp": 0.0, "voice.enc_p": 0.0, "voice.dp": 0.0}, "learning_rate": 4e-4},
    ),
}
VOICES = ("far", "espeak")


def make_speaker(voice: str, work: Path, files: int, per_file: int) -> tuple[list[str], str]:
    """The target speaker's takes under `work/speaker`; the sentences and a description."""
    texts = sentences(files * per_file)
    if voice == "far":
        import far_voice

        far_voice.make_takes(far_voice.praat_python(work), work / "speaker", texts, per_file)
        return texts, far_voice.DESCRIPTION
    from provoice import synthetic

    (work / "speaker").mkdir(parents=True, exist_ok=True)
    for i in range(files):
        synthetic.speech_file(
            work / "speaker" / f"take-{i:02d}.wav", texts[i * per_file : (i + 1) * per_file], ESPEAK_VOICE
        )
    return texts, f"espeak-ng `{ESPEAK_VOICE}` (formant synthesis, rule prosody)"


def real_readings(voice: str, work: Path) -> list[Path]:
    """The target speaker reading the evaluation's held-out sentences."""
    from provoice import synthetic
    from provoice.voice_models.evaluate import HELD_OUT_SENTENCES

    if voice == "far":
        import far_voice

        return far_voice.held_out(far_voice.praat_python(work), work / "held-out", list(HELD_OUT_SENTENCES))
    return [
        synthetic.speak(text, work / f"real-{i:02d}.wav", ESPEAK_VOICE) for i, text in enumerate(HELD_OUT_SENTENCES)
    ]


def real_speaker(voice: str, work: Path, manifest_uri: str) -> dict:
    """The target speaker itself reading the evaluation sentences, scored like a model."""
    import soundfile as sf

    from provoice.asr.whisper import load_model
    from provoice.dataset.outputs import read_manifest
    from provoice.quality.speaker import load_encoder
    from provoice.settings import Settings
    from provoice.storage import Storage
    from provoice.voice_models.evaluate import HELD_OUT_SEGMENTS, HELD_OUT_SENTENCES, score_audio, split_held_out
    from provoice.voice_models.validation import load_held_out

    settings = Settings()
    storage = Storage.from_settings(settings)
    encoder = load_encoder("cpu")
    held = load_held_out(storage, split_held_out(read_manifest(storage, manifest_uri), HELD_OUT_SEGMENTS)[1], encoder)
    audios, rate = [], 22050
    for path in real_readings(voice, work):
        audio, rate = sf.read(path, dtype="float32")
        audios.append(audio)
    asr = load_model(settings.asr_model, "cpu", settings.asr_compute_type, settings.asr_cpu_threads)
    ev = score_audio(HELD_OUT_SENTENCES, audios, rate, asr, encoder, held.voice)
    greedy = score_audio(HELD_OUT_SENTENCES, audios, rate, asr, encoder, held.voice, beam_size=1)
    return {**ev.summary(), "greedy_wer": round(greedy.wer, 4), "sentences": ev.sentences}


def resume_from(earlier: str, run_id: str) -> None:
    """Start `run_id` from a copy of an earlier run's training state (checkpoints, kept best points,
    bundle, history), so it continues where that run stopped instead of starting over."""
    import shutil

    from provoice.settings import Settings

    store = Path(Settings().home) / "store" / "training"
    if not (store / run_id).exists():
        shutil.copytree(store / earlier, store / run_id, ignore=shutil.ignore_patterns("result.json"))


def train_and_score(
    run_id: str, base_id: str, ds: dict, config, seeds: tuple[int, ...] = (0,), references: bool = False
) -> dict:
    from provoice.settings import Settings
    from provoice.voice_models.model_evaluation import evaluate_model
    from provoice.voice_models.pipeline import FineTuneInputs, fine_tune

    settings = Settings()
    inputs = FineTuneInputs(
        run_id=run_id,
        base_model_id=base_id,
        manifest_uri=ds["manifest_uri"],
        dataset_id=ds["id"],
        dataset_version=ds["version"],
    )
    t0 = time.perf_counter()
    result = fine_tune(settings, inputs, config)
    wall = time.perf_counter() - t0
    evals = []
    for i, seed in enumerate(seeds):
        ev = evaluate_model(
            settings, inputs.model_id, ds["manifest_uri"], seed=seed, with_references=references and i == 0
        )
        evals.append({"seed": seed, **ev.summary(), "sentences": ev.sentences})
    curve = [
        {k: r[k] for k in ("step", "val_wer", "val_speaker_similarity", "val_dnsmos", "val_mel") if k in r}
        for r in result.validation
    ]
    steps_per_s = [r["steps_per_s"] for r in _history(run_id) if "steps_per_s" in r]
    return {
        "model_id": inputs.model_id,
        "steps": result.steps,
        "best_step": result.best_step,
        "stopped_by": result.stopped_by,
        "trained_s": round(result.trained_s, 1),
        "validation_s": result.validation_s,
        "wall_s": round(wall, 1),
        "evaluations": evals,
        "curve": curve,
        "steps_per_s": round(sum(steps_per_s) / len(steps_per_s), 3) if steps_per_s else None,
        "config": config.to_dict(),
    }


def _history(run_id: str) -> list[dict]:
    from provoice.settings import Settings

    path = Path(Settings().home) / "store" / "training" / run_id / "history.json"
    return json.loads(path.read_text()) if path.exists() else []


def setup(voice: str, work: Path, results: dict, save, files: int, per_file: int) -> None:
    """The dataset (generated, ingested, prepared), the base model, and the real speaker's and the
    base model's scores: what every run is compared with."""
    from provoice.catalog import Catalog
    from provoice.settings import Settings
    from provoice.voice_models import BaseModelRegistry
    from provoice.voice_models.model_evaluation import evaluate_model

    if "dataset" not in results:
        with prefect_server(work) as (api_url, _):
            os.environ["PREFECT_API_URL"] = api_url
            texts, description = make_speaker(voice, work, files, per_file)
            log(f"generated {len(texts)} sentences: {description}")
            dataset_id = ingest(work / "speaker", f"clone-quality-{voice}")
            from flows.prepare import prepare_dataset

            summary = prepare_dataset(dataset_id)
            prepared = Catalog(Settings()).prepared_run(dataset_id)
            results["dataset"] = {
                "id": dataset_id,
                "version": prepared.version,
                "manifest_uri": prepared.manifest_uri,
                "accepted_s": summary.model_dump().get("accepted_seconds"),
                "voice": voice,
                "description": description,
                "sentences": len(texts),
            }
            save()
    ds = results["dataset"]
    log(f"dataset {ds['id']}: {ds['accepted_s']} s accepted")
    if "base_id" not in results:
        results["base_id"] = BaseModelRegistry(Settings()).import_piper_onnx("en_US-joe-medium").id
        save()
    if "real" not in results:
        results["real"] = real_speaker(voice, work, ds["manifest_uri"])
        save()
    if "base" not in results:
        ev = evaluate_model(Settings(), results["base_id"], ds["manifest_uri"])
        results["base"] = {**ev.summary(), "ceiling_similarity": ev.ceiling_similarity, "sentences": ev.sentences}
        save()
    log(
        f"real speaker WER {results['real']['wer']:.3f}, base WER {results['base']['wer']:.3f}, "
        f"base similarity {results['base']['speaker_similarity']:.3f}"
    )


def run_name(variant: str, steps: int) -> str:
    return f"{variant}-{steps}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--voice",
        choices=VOICES,
        default="far",
        help="far: a British woman from a real voice (bench/far_voice.py); espeak: espeak-ng en-gb+f3",
    )
    ap.add_argument("--work", type=Path, help="default /tmp/provoice-clone-<voice>")
    ap.add_argument("--variant", choices=tuple(VARIANTS), help="train and score this variant (after setup)")
    ap.add_argument("--steps", type=int, default=180, help="the run's total steps (180: 12 CPU minutes at batch 8)")
    ap.add_argument("--resume", type=int, help="continue the variant's run of this many steps to --steps")
    ap.add_argument("--seeds", default="0", help="evaluation seed starts (each evaluation reads with eval_seeds seeds)")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--report", action="store_true", help="write the study's section of docs/BENCHMARKS.md")
    ap.add_argument("--files", type=int, default=25)
    ap.add_argument("--per-file", type=int, default=10)
    args = ap.parse_args()
    work = (args.work or Path(f"/tmp/provoice-clone-{args.voice}")).resolve()
    set_env(work)
    work.mkdir(parents=True, exist_ok=True)
    cache = work / "results.json"
    results = json.loads(cache.read_text()) if cache.exists() else {}

    def save() -> None:
        cache.write_text(json.dumps(results, indent=1))

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    results.setdefault("machine", machine())
    setup(args.voice, work, results, save, args.files, args.per_file)
    runs = work / "runs"
    runs.mkdir(exist_ok=True)
    if args.variant:
        name = run_name(args.variant, args.steps)
        out = runs / f"{name}.json"
        if not out.exists():
            from provoice.settings import Settings
            from provoice.voice_models.recipe import recipe_for

            if args.resume:
                resume_from(run_name(args.variant, args.resume), name)
            settings = Settings()
            base = recipe_for(settings).train_config(settings, max_steps=args.steps)
            config = type(base).from_dict({**base.to_dict(), **VARIANTS[args.variant][1], "max_steps": args.steps})
            log(f"{name}: {args.steps} steps" + (f", resumed from step {args.resume}" if args.resume else ""))
            seeds = tuple(int(x) for x in args.seeds.split(","))
            record = train_and_score(name, results["base_id"], results["dataset"], config, seeds=seeds)
            out.write_text(
                json.dumps(
                    {
                        "variant": args.variant,
                        "resumed_from": args.resume,
                        "machine": machine(),
                        "code": code_version(["provoice", "bench"]),
                        **record,
                    },
                    indent=1,
                )
            )
        ev = json.loads(out.read_text())["evaluations"][0]
        log(f"{name}: WER {ev['wer']:.3f}, similarity {ev['speaker_similarity']:.3f}, DNSMOS {ev['dnsmos']:.2f}")
    if args.report:
        records = [json.loads(p.read_text()) for p in sorted(runs.glob("*.json"))]
        write_sections({f"clone-quality-{args.voice}": markdown(results, records)})
        log("wrote docs/BENCHMARKS.md")


def _fmt(v, spec: str = ".3f") -> str:
    return "—" if v is None else format(v, spec)


def _curve(points: list[dict]) -> str:
    return ", ".join(
        f"{p['step']}: {_fmt(p.get('val_wer'), '.2f')}/{_fmt(p.get('val_speaker_similarity'), '.2f')}" for p in points
    )


def markdown(r: dict, records: list[dict]) -> str:
    real, base, ds, m = r["real"], r["base"], r["dataset"], r["machine"]
    lines = [
        f"### Clone quality on the {ds['voice']} voice ({date.today().isoformat()})",
        "",
        f"- command: `python bench/clone_quality.py --voice {ds['voice']} --variant NAME --steps N "
        "[--resume M]`, then `--report`",
        machine_line(m) + f"; torch {m.get('torch')}",
        f"- target speaker: {ds['description']}, reading {ds['sentences']} template sentences; "
        f"{ds['accepted_s']} s accepted by `prepare`; base model `{r['base_id']}` (US male)",
        "- evaluation: `provoice model evaluate` on its 16 held-out sentences (3 synthesis seeds each), Whisper "
        "tiny.en beam 5 with Whisper's English normaliser, similarity to the dataset's held-out clips, DNSMOS",
        "- steps, not minutes, are the budget, so two runs sharing the cores train the same amount: 180 steps "
        "is 12 CPU minutes at batch 8 (0.25 steps/s on 2 cores)",
        "",
        "| model | steps (best) | ≈ CPU min | WER | speaker similarity | DNSMOS |",
        "|---|---|---|---|---|---|",
        f"| real speaker reading the sentences | — | — | {real['wer']:.3f} | {real['speaker_similarity']:.3f} "
        f"(ceiling {_fmt(base.get('ceiling_similarity'))}: held-out clips, leave-one-out) | {real['dnsmos']:.2f} |",
        f"| base model | 0 | 0 | {base['wer']:.3f} | {_fmt(base['speaker_similarity'])} | {base['dnsmos']:.2f} |",
    ]
    for v in sorted(records, key=lambda v: (v["variant"], v["steps"])):
        ev = v["evaluations"][0]
        lines.append(
            f"| `{v['variant']}` | {v['steps']} ({v['best_step']}) | {v['steps'] / 15:.0f} | {ev['wer']:.3f} | "
            f"{_fmt(ev['speaker_similarity'])} | {ev['dnsmos']:.2f} |"
        )
    lines += ["", "Runs (validation WER/similarity by step):"]
    for v in sorted(records, key=lambda v: (v["variant"], v["steps"])):
        resumed = f", resumed from step {v['resumed_from']}" if v.get("resumed_from") else ""
        lines.append(f"- `{v['variant']}` to {v['steps']}{resumed}: {VARIANTS[v['variant']][0]}. {_curve(v['curve'])}")
    lines += [
        "",
        f"Targets (far voice, 12 CPU minutes): similarity ≥ 0.90, WER ≤ real + 0.03 = {real['wer'] + 0.03:.3f}.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
