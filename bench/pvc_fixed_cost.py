"""The fixed cost of a PVC: what a real PVC spends after its last training step, stage by stage.

A small espeak dataset (six chapters, about 90 s) is ingested and prepared, the offline base model
(`en_US-joe-medium`) imported, and `--pvcs` PVCs on that one dataset version run the parent flow
`pro-voice-clone` at the default settings with `--steps` training steps each. Every stage after the
last training step is timed by wrapping the function that does it (in this process; nothing in the
product changes): the last validation, the final checkpoint, the loss curve and history, checkpoint
selection, the generator export, the evaluation (clone, base, ceiling), ONNX, the voices, the charge
and the notification. "total" is the wall time from the end of the last training step to the flow's
return; what no stage covers (Prefect's task and flow bookkeeping) is "other".

The first PVC on a dataset version scores the base model; a later one reads those scores back.

    python bench/pvc_fixed_cost.py --json                       # 2 PVCs of 2 steps, prints JSON
    python bench/pvc_fixed_cost.py --save before.json           # keep a run's figures
    python bench/pvc_fixed_cost.py --baseline before.json --update-docs   # after, with the ratio
    python bench/pvc_fixed_cost.py --result after.json --baseline before.json --update-docs   # report only
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import code_version, ingest, log, machine, machine_line, prefect_server, set_env, write_sections

BASE_MODEL = "en_US-joe-medium"
CHAPTERS = 6
CHAPTER_SECONDS = 16
#: (stage, "module:attribute"), in the order they run; a name missing from the code is skipped.
#: Stages may nest (the base model's and the clone's evaluation run inside `evaluation`).
STAGES = (
    ("last validation", "provoice.tts.train.validation:Validator.__call__"),
    ("final checkpoint", "provoice.tts.train.trainer:Trainer._checkpoint"),
    ("history and loss curve", "provoice.tts.train.trainer:Trainer._write_reports"),
    ("checkpoint selection", "provoice.tts.train.trainer:Trainer._restore_best"),
    ("generator export", "provoice.voice_models.pipeline:export_generator"),
    ("evaluation", "tasks.train:evaluate_model"),
    ("· a model synthesised and scored", "provoice.voice_models.model_evaluation:HeldOutScoring.score"),
    ("ONNX export", "tasks.train:export_voice_onnx"),
    ("voices", "tasks.voices:create_voices"),
    ("charge", "tasks.charge:complete"),
    ("· notification", "provoice.pvc.transitions:_tell"),
)
#: Code the figures describe (`code_version`).
MEASURED = ["provoice", "flows", "tasks", "bench/pvc_fixed_cost.py"]


class Spans:
    """Start and end times of wrapped calls, and the end of the last training step."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, float, float]] = []
        self.last_step_end = self.last_step_cpu = 0.0

    def wrap(self, stage: str, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def timed(*args, **kwargs):
            began = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.calls.append((stage, began, time.perf_counter()))

        return timed

    def mark_step(self, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def step(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            finally:
                self.last_step_end, self.last_step_cpu = time.perf_counter(), time.process_time()

        return step

    def after(self, since: float) -> dict[str, float]:
        """Seconds per stage of the calls that began at or after `since`."""
        out: dict[str, float] = {}
        for stage, began, ended in self.calls:
            if began >= since:
                out[stage] = round(out.get(stage, 0.0) + ended - began, 2)
        return out

    def covered(self, since: float) -> float:
        """Seconds after `since` during which some outer stage ran (stages side by side count once)."""
        spans = sorted((b, e) for stage, b, e in self.calls if b >= since and not stage.startswith("·"))
        total, reach = 0.0, since
        for began, ended in spans:
            total += max(0.0, ended - max(began, reach))
            reach = max(reach, ended)
        return total


@contextlib.contextmanager
def instrumented(spans: Spans):
    """Every stage in `STAGES` wrapped (where the code has it), and the trainer's step marked."""
    undo = []

    def patch(owner, attr: str, new) -> None:
        undo.append((owner, attr, getattr(owner, attr)))
        setattr(owner, attr, new)

    for stage, target in STAGES:
        module_name, path = target.split(":")
        owner = importlib.import_module(module_name)
        *parents, attr = path.split(".")
        for name in parents:
            owner = getattr(owner, name)
        if hasattr(owner, attr):
            patch(owner, attr, spans.wrap(stage, getattr(owner, attr)))
    from provoice.tts.train.trainer import Trainer

    patch(Trainer, "train_step", spans.mark_step(Trainer.train_step))
    try:
        yield
    finally:
        for owner, attr, old in reversed(undo):
            setattr(owner, attr, old)


def make_dataset(work: Path) -> str:
    from provoice import synthetic

    folder = work / "chapters"
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(CHAPTERS):
        synthetic.speech_file(folder / f"chapter{i}.wav", synthetic.corpus(CHAPTER_SECONDS, start=2 * i))
    return ingest(folder, "fixed-cost")


def run_pvc(spans: Spans, dataset_id: str, base_id: str, steps: int, name: str) -> dict:
    """One PVC through the parent flow; its stages after the last training step."""
    from flows.pvc import pro_voice_clone
    from provoice.accounts import default_account
    from provoice.catalog import Catalog
    from provoice.credits import PVC_TRAINING_CREDITS, grant
    from provoice.pvc.service import create_pvc, get_pvc
    from provoice.settings import Settings

    settings = Settings()
    catalog = Catalog(settings)
    account = default_account(catalog).id
    grant(catalog, account, PVC_TRAINING_CREDITS, idempotency_key=f"bench-{name}-{time.time_ns()}")
    pvc = create_pvc(catalog, account, dataset_id, name, base_id, settings=settings)
    began = time.perf_counter()
    pro_voice_clone(pvc_id=pvc.id, max_steps=steps)
    ended, cpu = time.perf_counter(), time.process_time()
    done = get_pvc(catalog, pvc.id)
    stages = spans.after(spans.last_step_end)
    total = ended - spans.last_step_end
    covered = spans.covered(spans.last_step_end)
    evaluation = done.evaluation or {}
    return {
        "pvc_id": pvc.id,
        "status": str(done.status),
        "flow_s": round(ended - began, 1),
        "stages": stages,
        "other_s": round(total - covered, 2),
        "total_s": round(total, 1),
        "total_cpu_s": round(cpu - spans.last_step_cpu, 1),
        "load_avg_1min_at_end": round(os.getloadavg()[0], 2),
        "evaluation": {k: evaluation.get(k) for k in ("wer", "speaker_similarity", "dnsmos", "ceiling_similarity")}
        | {"base": {k: (evaluation.get("base") or {}).get(k) for k in ("wer", "speaker_similarity", "dnsmos")}},
    }


def measure(steps: int, pvcs: int, work: Path) -> dict:
    os.environ["PROVOICE_REQUIRE_CONSENT"] = "false"  # consent is not part of the fixed cost
    with contextlib.redirect_stdout(sys.stderr), prefect_server(work) as (api_url, _):
        os.environ["PREFECT_API_URL"] = api_url
        from flows.prepare import prepare_dataset
        from provoice.settings import Settings
        from provoice.voice_models import BaseModelRegistry

        log(f"importing {BASE_MODEL}")
        base_id = BaseModelRegistry(Settings()).import_piper_onnx(BASE_MODEL).id
        dataset_id = make_dataset(work)
        summary = prepare_dataset(dataset_id)
        log(f"dataset {dataset_id}: {summary.accepted_seconds:.0f} s accepted, version {summary.version}")
        spans, runs = Spans(), []
        with instrumented(spans):
            for i in range(pvcs):
                log(f"PVC {i + 1} of {pvcs}: {steps} steps")
                runs.append(run_pvc(spans, dataset_id, base_id, steps, f"fixed-cost-{i + 1}"))
                log(f"PVC {i + 1}: {runs[-1]['total_s']} s after the last step: {runs[-1]['stages']}")
    settings = Settings()
    return {
        "machine": machine(),
        "code": code_version(MEASURED),
        "steps": steps,
        "accepted_s": round(summary.accepted_seconds, 1),
        "eval": {"sentences": settings.eval_sentences, "seeds": settings.eval_seeds},
        "validation_sentences": settings.train_validation_sentences,
        "runs": runs,
    }


def markdown(result: dict, baseline: dict | None, command: str) -> str:
    m = result["machine"]
    runs = result["runs"]
    lines = [
        f"### Fixed cost of a PVC after its training steps ({date.today().isoformat()})",
        "",
        machine_line(m),
        f"- command: `{command}`; code: {result['code']}"
        + (f"; before: {baseline['code']}, same machine" if baseline else ""),
        f"- {len(runs)} PVCs of {result['steps']} training steps on one dataset version "
        f"({result['accepted_s']} s accepted), base `{BASE_MODEL}`, default settings: evaluation of "
        f"{result['eval']['sentences']} sentences × {result['eval']['seeds']} seeds, validation of "
        f"{result['validation_sentences']} sentences. Seconds from the end of the last training step; "
        "rows marked · run inside the row above them; stages side by side (ONNX export beside the evaluation) overlap, "
        "so the total is less than their sum.",
        "",
    ]
    columns = [("before", r) for r in (baseline or {}).get("runs", [])] + [("after", r) for r in runs]
    names = list(dict.fromkeys(s for _, r in columns for s in r["stages"]))
    order = [s for s, _ in STAGES if s in names] + [s for s in names if s not in dict(STAGES)]
    header = [f"{tag}, PVC {sum(t == tag for t, _ in columns[: i + 1])}" for i, (tag, _) in enumerate(columns)]
    lines += ["| stage | " + " | ".join(header) + " |", "|---" * (len(header) + 1) + "|"]

    def row(label: str, values) -> None:
        lines.append(f"| {label} | " + " | ".join(values) + " |")

    for stage in order:
        row(stage, (_s(r["stages"].get(stage)) for _, r in columns))
    row("other (no stage running: Prefect bookkeeping)", (_s(r["other_s"]) for _, r in columns))
    row("**total**", (f"**{_s(r['total_s'])}**" for _, r in columns))
    row("CPU time of the total (this process)", (_s(r.get("total_cpu_s")) for _, r in columns))
    row("load average (1 min) at the end", (_s(r.get("load_avg_1min_at_end"), 2) for _, r in columns))
    if baseline:
        ratios = [
            f"PVC {i + 1}: wall {b['total_s']:.0f} s → {a['total_s']:.0f} s ({b['total_s'] / a['total_s']:.1f}×), "
            f"CPU {b['total_cpu_s']:.0f} s → {a['total_cpu_s']:.0f} s ({b['total_cpu_s'] / a['total_cpu_s']:.1f}×)"
            for i, (b, a) in enumerate(zip(baseline["runs"], runs, strict=False))
        ]
        lines += ["", "Ratio (before / after): " + "; ".join(ratios) + "."]
    lines += ["", "Scores each run reported (WER / speaker similarity / DNSMOS; base in brackets):", ""]
    for tag, r in columns:
        e = r["evaluation"]
        b = e.get("base") or {}
        lines.append(
            f"- {tag} `{r['pvc_id']}`: {_s(e.get('wer'), 3)} / {_s(e.get('speaker_similarity'), 3)} / "
            f"{_s(e.get('dnsmos'), 2)} (base {_s(b.get('wer'), 3)} / {_s(b.get('speaker_similarity'), 3)} / "
            f"{_s(b.get('dnsmos'), 2)}), ceiling {_s(e.get('ceiling_similarity'), 3)}"
        )
    return "\n".join(lines) + "\n"


def _s(value, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=2, help="training steps of each PVC")
    ap.add_argument("--pvcs", type=int, default=2, help="PVCs on the same dataset version, one after another")
    ap.add_argument("--work", type=Path, help="working folder (default: a new temporary one)")
    ap.add_argument("--save", type=Path, help="also write the result's JSON here")
    ap.add_argument("--baseline", type=Path, help="an earlier result (--save) to compare with")
    ap.add_argument("--result", type=Path, help="report this saved result (--save) instead of measuring")
    ap.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    ap.add_argument("--update-docs", action="store_true", help="write the section in docs/BENCHMARKS.md")
    args = ap.parse_args()
    if args.result:
        result = json.loads(args.result.read_text())
    else:
        work = (args.work or Path(tempfile.mkdtemp(prefix="provoice-fixed-cost-"))).resolve()
        set_env(work)
        result = measure(args.steps, args.pvcs, work)
    if args.save:
        args.save.write_text(json.dumps(result, indent=1))
    if args.json:
        print(json.dumps(result, indent=1))
    if args.update_docs:
        baseline = json.loads(args.baseline.read_text()) if args.baseline else None
        command = f"python bench/pvc_fixed_cost.py --steps {result['steps']} --pvcs {len(result['runs'])} --update-docs"
        write_sections({"pvc-fixed-cost": markdown(result, baseline, command)})
        log("wrote docs/BENCHMARKS.md")


if __name__ == "__main__":
    main()
