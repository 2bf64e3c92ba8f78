"""Clone quality: does a fine-tune on a speaker unlike the base keep the words and gain the voice?

1. Generate a target speaker (espeak-ng `en-gb+f3`, a British female voice, far from the base's
   US male Joe) reading varied template sentences: at least 6 minutes of accepted speech.
2. Ingest and prepare it (the product's flows), import the offline base model.
3. Score the real speaker reading the evaluation sentences, and the base model (the floor).
4. Variants side by side on the same data and the same number of steps (the experiments behind
   the recipe), then the product's own config for `--minutes` of training; evaluate each, and
   the product model with several synthesis seeds (the evaluation's spread).

Results are cached in `<work>/results.json`, so a re-run only does what is missing
(`--stage variants|product|all`). Usage: `python bench/clone_quality.py [--minutes 12]`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import code_version, ingest, log, machine, machine_line, prefect_server, set_env, write_sections  # noqa: E402

VOICE = "en-gb+f3"
SUBJECTS = ["The old farmer", "My younger brother", "A tired nurse", "The new teacher", "Our quiet neighbour",
            "The city council", "A young painter", "The head chef", "Her best friend", "The night guard",
            "A local reporter", "The museum guide", "Two small children", "The factory manager"]
VERBS = ["carried", "repaired", "described", "painted", "ordered", "collected", "delivered", "measured",
         "borrowed", "cleaned", "discovered", "photographed", "returned", "opened"]
OBJECTS = ["a heavy wooden chair", "the broken garden gate", "three baskets of apples", "a letter from Spain",
           "the silver kettle", "a map of the northern coast", "the blue bicycle", "a box of old records",
           "the kitchen window", "a bag of warm bread", "the station clock", "a pair of leather boots"]
PLACES = ["near the harbour", "behind the school", "at the busy market", "in the small village",
          "beside the frozen lake", "across the wide bridge", "inside the empty theatre", "along the railway"]
TIMES = ["early on Monday", "before the storm", "late last night", "during the holidays", "after lunch",
         "every autumn", "on a sunny morning", "just before dinner"]


def sentences(count: int, seed: int = 7) -> list[str]:
    """Varied, grammatical and reproducible: no sentence repeats, no evaluation sentence appears."""
    rng, out, seen = random.Random(seed), [], set()
    while len(out) < count:
        s = f"{rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} {rng.choice(PLACES)} {rng.choice(TIMES)}."
        if s not in seen:
            seen.add(s)
            out.append(s)
    return out


#: name -> (what it tests, TrainConfig overrides on top of the product config). The pipeline builds
#: every variant's model the same way (the voice's text-side layers start at zero); the overrides
#: decide what trains.
VARIANTS: dict[str, tuple[str, dict]] = {
    "previous": ("every module at the full rate, the voice on the text side too, no KL warm-up (the trainer "
                 "before the clone-quality work)", {"module_lr": {}, "kl_warmup_steps": 0}),
    "slow-text": ("text encoder and duration predictor at 0.1 x the rate, KL warm-up over 100 steps (the "
                  "recipe before this change)", {"module_lr": {"enc_p": 0.1, "dp": 0.1}, "kl_warmup_steps": 100}),
    "freeze-text": ("text encoder and duration predictor frozen, but the voice's biases on them train",
                    {"module_lr": {"enc_p": 0.0, "dp": 0.0}, "kl_warmup_steps": 0}),
    "text-locked": ("the product recipe: text encoder, duration predictor and the voice's biases on them frozen, "
                    "full KL from the start", {}),
    "text-locked+kl-warmup": ("the product recipe with the KL weight ramped in over 100 steps",
                              {"kl_warmup_steps": 100}),
    "text-locked+prior-path": ("the product recipe, half of each batch decoded from the text's prior through the "
                               "inverse flow (the inference path)", {"prior_decode_fraction": 0.5}),
    "text-locked+confident": ("the product recipe, trained only on segments whose transcript confidence is high "
                              "(avg log-prob >= -0.3)", {}),
}
CONFIDENT_LOGPROB = -0.3


def make_speaker(folder: Path, files: int, per_file: int) -> list[str]:
    from provoice import synthetic

    folder.mkdir(parents=True, exist_ok=True)
    texts = sentences(files * per_file)
    for i in range(files):
        synthetic.speech_file(folder / f"take-{i:02d}.wav", texts[i * per_file:(i + 1) * per_file], VOICE)
    return texts


def real_speaker(work: Path, manifest_uri: str) -> dict:
    """The target speaker itself reading the evaluation sentences, scored like a model."""
    import soundfile as sf

    from provoice import synthetic
    from provoice.asr.whisper import load_model
    from provoice.quality.speaker import load_encoder
    from provoice.settings import Settings
    from provoice.storage import Storage
    from provoice.dataset.outputs import read_manifest
    from provoice.voice_models.evaluate import HELD_OUT_SENTENCES, score_audio, split_held_out
    from provoice.voice_models.pipeline import HELD_OUT_SEGMENTS
    from provoice.voice_models.validation import load_held_out

    settings = Settings()
    storage = Storage.from_settings(settings)
    encoder = load_encoder("cpu")
    held = load_held_out(storage, split_held_out(read_manifest(storage, manifest_uri), HELD_OUT_SEGMENTS)[1], encoder)
    audios, rate = [], 22050
    for i, text in enumerate(HELD_OUT_SENTENCES):
        path = synthetic.speak(text, work / f"real-{i:02d}.wav", VOICE)
        audio, rate = sf.read(path, dtype="float32")
        audios.append(audio)
    asr = load_model(settings.asr_model, "cpu", settings.asr_compute_type, settings.asr_cpu_threads)
    ev = score_audio(HELD_OUT_SENTENCES, audios, rate, asr, encoder, held.voice)
    greedy = score_audio(HELD_OUT_SENTENCES, audios, rate, asr, encoder, held.voice, beam_size=1)
    return {**ev.summary(), "greedy_wer": round(greedy.wer, 4), "sentences": ev.sentences}


def confident_manifest(manifest_uri: str) -> tuple[str, int, int]:
    """The manifest with low-confidence training rows left out (held-out rows kept, so every
    variant is evaluated and validated on the same clips)."""
    from provoice.dataset.outputs import read_manifest
    from provoice.settings import Settings
    from provoice.storage import Storage
    from provoice.voice_models.evaluate import split_held_out
    from provoice.voice_models.pipeline import HELD_OUT_SEGMENTS

    storage = Storage.from_settings(Settings())
    rows = read_manifest(storage, manifest_uri)
    train, held = split_held_out(rows, HELD_OUT_SEGMENTS)
    keep = [r for r in train if r["metrics"]["avg_logprob"] >= CONFIDENT_LOGPROB]
    key = storage.key_of(manifest_uri).rsplit("/", 1)[0] + "/manifest-confident.jsonl"
    uri = storage.write_bytes(key, "".join(json.dumps(r) + "\n" for r in keep + held).encode())
    return uri, len(keep), len(train)


def train_and_score(run_id: str, base_id: str, dataset_id: str, version: str, manifest_uri: str,
                    eval_manifest: str, config, seeds: tuple[int, ...] = (0,), references: bool = False) -> dict:
    from provoice.settings import Settings
    from provoice.voice_models.pipeline import FineTuneInputs, evaluate_model, fine_tune_here

    settings = Settings()
    inputs = FineTuneInputs(run_id=run_id, base_model_id=base_id, manifest_uri=manifest_uri,
                            dataset_id=dataset_id, dataset_version=version)
    t0 = time.perf_counter()
    result = fine_tune_here(settings, inputs, config)
    wall = time.perf_counter() - t0
    evals = []
    for i, seed in enumerate(seeds):
        ev = evaluate_model(settings, inputs.model_id, eval_manifest, seed=seed, with_references=references and i == 0)
        evals.append({"seed": seed, **ev.summary(), "sentences": ev.sentences})
    curve = [{k: r[k] for k in ("step", "val_wer", "val_speaker_similarity", "val_dnsmos", "val_mel") if k in r}
             for r in result.validation]
    return {"model_id": inputs.model_id, "steps": result.steps, "best_step": result.best_step,
            "stopped_by": result.stopped_by, "trained_s": round(result.trained_s, 1),
            "validation_s": result.validation_s, "wall_s": round(wall, 1), "evaluations": evals, "curve": curve}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, default=Path("/tmp/provoice-clone-quality"))
    ap.add_argument("--minutes", type=float, default=12.0, help="training budget of the product run")
    ap.add_argument("--variant-steps", type=int, default=60, help="steps of every side-by-side variant")
    ap.add_argument("--stage", choices=("setup", "variants", "product", "all"), default="all",
                    help="setup: only the dataset, the base import and the real-speaker and base scores")
    ap.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated subset of the variants")
    ap.add_argument("--files", type=int, default=13)
    ap.add_argument("--per-file", type=int, default=10)
    args = ap.parse_args()
    work = args.work.resolve()
    set_env(work)
    work.mkdir(parents=True, exist_ok=True)
    cache = work / "results.json"
    results = json.loads(cache.read_text()) if cache.exists() else {}

    def save() -> None:
        cache.write_text(json.dumps(results, indent=1))

    import torch

    from provoice.catalog import Catalog
    from provoice.settings import Settings
    from provoice.voice_models import BaseModelRegistry
    from provoice.voice_models.pipeline import evaluate_model, fine_tune_config

    results["machine"] = machine()
    with prefect_server(work) as (api_url, _):
        os.environ["PREFECT_API_URL"] = api_url
        if "dataset" not in results:
            texts = make_speaker(work / "speaker", args.files, args.per_file)
            log(f"generated {len(texts)} sentences as {VOICE}")
            dataset_id = ingest(work / "speaker", "clone-quality")
            from flows.prepare import prepare_dataset

            summary = prepare_dataset(dataset_id)
            prepared = Catalog(Settings()).prepared_run(dataset_id)
            results["dataset"] = {"id": dataset_id, "version": prepared.version, "manifest_uri": prepared.manifest_uri,
                                  "accepted_s": summary.model_dump().get("accepted_seconds"), "voice": VOICE,
                                  "sentences": len(texts)}
            save()
        ds = results["dataset"]
        log(f"dataset {ds['id']}: {ds['accepted_s']} s accepted")
        registry = BaseModelRegistry(Settings())
        if "base_id" not in results:
            results["base_id"] = registry.import_piper_onnx("en_US-joe-medium").id
            save()
        base_id = results["base_id"]
        if "real" not in results:
            results["real"] = real_speaker(work, ds["manifest_uri"])
            save()
        if "base" not in results:
            ev = evaluate_model(Settings(), base_id, ds["manifest_uri"])
            ev2 = evaluate_model(Settings(), base_id, ds["manifest_uri"], seed=3, with_references=False)
            results["base"] = {**ev.summary(), "ceiling_similarity": ev.ceiling_similarity,
                               "second_run_wer": round(ev2.wer, 4), "sentences": ev.sentences}
            save()
        log(f"real speaker WER {results['real']['wer']:.3f}, base WER {results['base']['wer']:.3f}")
        settings = Settings()
        results.setdefault("variants", {})
        if args.stage in ("variants", "all"):
            for name in args.variants.split(","):
                overrides = VARIANTS[name][1]
                if name in results["variants"]:
                    continue
                manifest = ds["manifest_uri"]
                extra = {}
                if name.endswith("+confident"):
                    manifest, kept, total = confident_manifest(ds["manifest_uri"])
                    extra = {"rows_kept": kept, "rows_total": total}
                base_config = fine_tune_config(settings, max_steps=args.variant_steps)
                config = type(base_config).from_dict({**base_config.to_dict(), **overrides})
                log(f"variant {name}: {args.variant_steps} steps")
                results["variants"][name] = {**extra, **train_and_score(
                    "cq-" + re.sub(r"[^a-z0-9]+", "-", name.lower()), base_id, ds["id"], ds["version"], manifest, ds["manifest_uri"],
                    config)}
                save()
        if args.stage in ("product", "all") and "product" not in results:
            config = fine_tune_config(settings, max_minutes=args.minutes)
            log(f"product config: {args.minutes} minutes")
            results["product"] = {"minutes": args.minutes, **train_and_score(
                f"cq-product-{int(args.minutes)}m", base_id, ds["id"], ds["version"], ds["manifest_uri"],
                ds["manifest_uri"], config, seeds=(0, 3), references=True)}
            save()
    results["code"] = code_version(["provoice", "bench/clone_quality.py"])
    save()
    if args.stage != "setup":
        write_sections({"clone-quality": markdown(results, args)})
    log(f"wrote {cache} and docs/BENCHMARKS.md; torch {torch.__version__}")


def _fmt(v, spec: str = ".3f") -> str:
    return "—" if v is None else format(v, spec)


def _curve(points: list[dict]) -> str:
    return ", ".join(f"{p['step']}: {_fmt(p.get('val_wer'), '.2f')}/{_fmt(p.get('val_speaker_similarity'), '.2f')}"
                     for p in points)


def markdown(r: dict, args) -> str:
    real, base, ds = r["real"], r["base"], r["dataset"]
    lines = [f"### Clone quality: fine-tuning a speaker unlike the base ({date.today().isoformat()})", "",
             f"- command: `python bench/clone_quality.py --minutes {args.minutes:g} --variant-steps {args.variant_steps}`",
             machine_line(r["machine"]), f"- code: {r.get('code', 'unknown')}",
             f"- target speaker: espeak-ng `{ds['voice']}` reading {ds['sentences']} template sentences; "
             f"{ds['accepted_s']} s accepted by `prepare`; base model `{r['base_id']}` (US male)",
             "- evaluation: `provoice model evaluate`: its 16 held-out sentences, each synthesised with 3 seeds, "
             "Whisper tiny.en beam 5 with Whisper's English normaliser, similarity to the dataset's held-out clips, "
             "DNSMOS overall", "",
             "| model | steps (best) | WER | speaker similarity | DNSMOS |", "|---|---|---|---|---|",
             f"| real speaker (espeak reading the sentences) | — | {real['wer']:.3f} (greedy {real['greedy_wer']:.3f}) "
             f"| {_fmt(base.get('ceiling_similarity'))} (held-out clips, leave-one-out) | {real['dnsmos']:.2f} |",
             f"| base model | 0 | {base['wer']:.3f} | {_fmt(base['speaker_similarity'])} | {base['dnsmos']:.2f} |"]
    for name, v in r.get("variants", {}).items():
        ev = v["evaluations"][0]
        lines.append(f"| variant `{name}` | {v['steps']} ({v['best_step']}) | {ev['wer']:.3f} | "
                     f"{_fmt(ev['speaker_similarity'])} | {ev['dnsmos']:.2f} |")
    p = r.get("product")
    if p:
        ev = p["evaluations"][0]
        lines.append(f"| **product config, {p['minutes']:g} min** | {p['steps']} ({p['best_step']}) | "
                     f"**{ev['wer']:.3f}** | **{_fmt(ev['speaker_similarity'])}** | **{ev['dnsmos']:.2f}** |")
    lines += ["", "Variants (same data, same steps):"]
    for name, v in r.get("variants", {}).items():
        extra = f"; trained on {v['rows_kept']} of {v['rows_total']} rows" if "rows_kept" in v else ""
        lines.append(f"- `{name}`: {VARIANTS[name][0]}{extra}. Validation WER/similarity by step: {_curve(v['curve'])}")
    if p:
        wers = [e["wer"] for e in p["evaluations"]]
        per_seed = [w for e in p["evaluations"] for w in e.get("wer_by_seed", [])]
        lines += ["", f"Product run: {p['steps']} steps in {p['trained_s']:.0f} s of training "
                      f"(validation {p['validation_s']:.0f} s, {100 * p['validation_s'] / max(p['trained_s'], 1):.0f} %), "
                      f"stopped by {p['stopped_by']}, best step {p['best_step']} exported.",
                  f"- validation curve (step: WER/similarity): {_curve(p['curve'])}",
                  f"- evaluation spread: two runs of the evaluation on the exported model (seeds 0–2, then 3–5): WER "
                  f"{', '.join(f'{w:.3f}' for w in wers)} (difference {max(wers) - min(wers):.3f}); a single seed "
                  f"of 16 sentences ranged {min(per_seed, default=0):.3f}–{max(per_seed, default=0):.3f}; base model, "
                  f"two runs: {base['wer']:.3f} / {base['second_run_wer']:.3f}",
                  f"- targets: WER ≤ real + 0.03 = {real['wer'] + 0.03:.3f} → {ev['wer']:.3f}; similarity ≥ 0.90 → "
                  f"{_fmt(ev['speaker_similarity'])}; DNSMOS ≥ base − 0.2 = {base['dnsmos'] - 0.2:.2f} → {ev['dnsmos']:.2f}; "
                  f"validation WER after 20 % ≤ the base's validation WER + 0.15 = {_base_val(p['curve']) + 0.15:.3f} "
                  f"→ worst {_fmt(_worst_after(p['curve'], p['steps']))}"]
    return "\n".join(lines)


def _base_val(curve: list[dict]) -> float:
    return next((c["val_wer"] for c in curve if c["step"] == 0 and "val_wer" in c), float("nan"))


def _worst_after(curve: list[dict], steps: int) -> float | None:
    late = [c["val_wer"] for c in curve if c["step"] > 0.2 * steps and "val_wer" in c]
    return max(late) if late else None


if __name__ == "__main__":
    main()
