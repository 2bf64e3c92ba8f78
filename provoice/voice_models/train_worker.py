"""One torchrun rank of a multi-GPU fine-tune: `python -m torch.distributed.run … -m
provoice.voice_models.train_worker '<json>'`, started by `provoice.voice_models.pipeline.fine_tune`."""

from __future__ import annotations

import json
import os
import sys

from provoice.settings import Settings
from provoice.tts import TrainConfig
from provoice.voice_models.pipeline import WORKER_SETTINGS_ENV, FineTuneInputs, fine_tune


def main(argv: list[str]) -> None:
    payload = json.loads(argv[0])
    settings = Settings.model_validate_json(os.environ[WORKER_SETTINGS_ENV])  # the launcher's, not re-read
    fine_tune(settings, FineTuneInputs(**payload["inputs"]), TrainConfig.from_dict(payload["config"]))


if __name__ == "__main__":
    main(sys.argv[1:])
