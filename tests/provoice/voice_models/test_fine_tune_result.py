"""A training outcome has one shape: users see the model and its scores, storage keeps the training
record, and the files written before the shape was one still read."""

from provoice.storage import Storage
from provoice.views import FineTuneResult, stored
from provoice.voice_models.pipeline import FineTuneInputs, read_result, result_key

INPUTS = FineTuneInputs(
    run_id="ft-1", base_model_id="tiny-base", manifest_uri="file:///m.jsonl", dataset_id="ds_1", dataset_version="v1"
)


def test_the_training_record_is_stored_but_never_shown():
    result = FineTuneResult(
        model_id="tiny-base/ft-1",
        base_model_id="tiny-base",
        run_id="ft-1",
        dataset_id="ds_1",
        dataset_version="v1",
        steps=3,
        stopped_by="max_steps",
        best_step=3,
        batch_size=2,
        processes=2,
        trained_s=12.5,
        loss_curve_key="training/ft-1/loss_curve.png",
        validation=[{"step": 3, "val_wer": 0.1}],
        onnx_uri="file:///m.onnx",
    )
    assert set(result.model_dump()) == {
        "model_id",
        "base_model_id",
        "run_id",
        "dataset_id",
        "dataset_version",
        "steps",
        "stopped_by",
        "best_step",
        "evaluation",
    }
    assert FineTuneResult.model_validate(stored(result)) == result


def test_an_old_result_gets_the_runs_identity_and_an_old_summary_the_training_defaults(settings):
    storage = Storage.from_settings(settings)
    storage.write_json(
        result_key(INPUTS),
        {
            "model_id": "tiny-base/ft-1",
            "steps": 3,
            "stopped_by": "max_steps",
            "resumed_from": None,
            "loss_curve_key": None,
            "batch_size": 2,
            "processes": 1,
            "trained_s": 1.0,
            "best_step": 3,
            "validation_s": 0.5,
            "validation": [],
        },
    )
    old = read_result(storage, INPUTS)
    assert (old.base_model_id, old.run_id, old.dataset_id, old.dataset_version) == ("tiny-base", "ft-1", "ds_1", "v1")
    assert (old.steps, old.batch_size, old.evaluation) == (3, 2, None)
    summary = FineTuneResult.model_validate(
        {
            "model_id": "tiny-base/ft-1",
            "base_model_id": "tiny-base",
            "run_id": "ft-1",
            "dataset_id": "ds_1",
            "dataset_version": "v1",
            "steps": 3,
            "stopped_by": "max_steps",
            "best_step": 3,
            "onnx_uri": "file:///m.onnx",
            "loss_curve_uri": None,
            "evaluation": {"wer": 0.1, "speaker_similarity": 0.8, "dnsmos": 3.1},
        }
    )
    assert summary.onnx_uri == "file:///m.onnx" and summary.evaluation.wer == 0.1
    assert (summary.processes, summary.trained_s, summary.validation) == (1, 0.0, [])
