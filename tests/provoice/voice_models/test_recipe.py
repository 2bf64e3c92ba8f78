"""The fine-tune recipe: one named object, settings override single values, and every config,
checkpoint and exported model records which recipe trained it."""

from __future__ import annotations

import dataclasses

import pytest

from provoice.settings import Settings
from provoice.tts import TrainConfig
from provoice.tts.formats import InferenceScales
from provoice.voice_models.recipe import RECIPE, SETTING_OVERRIDES, recipe_for


def test_every_value_has_its_reason_and_a_settings_override_names_a_field():
    fields = {f.name for f in dataclasses.fields(RECIPE)} - {"name", "notes"}
    assert set(RECIPE.notes) == fields
    assert set(SETTING_OVERRIDES.values()) <= fields
    assert all(hasattr(Settings(), key) for key in SETTING_OVERRIDES)


def test_the_product_config_is_the_recipe(settings):
    config = recipe_for(settings).train_config(settings, max_steps=50)
    assert config.recipe == RECIPE.name and config.max_steps == 50 and config.max_minutes is None
    assert (config.batch_size, config.learning_rate) == (RECIPE.batch_size, RECIPE.learning_rate)
    assert config.module_lr == dict(RECIPE.module_lr) and config.selection_wer_margin == RECIPE.selection_wer_margin
    assert (config.validate_every, config.early_stop_patience, config.checkpoint_every) == (
        RECIPE.validate_every,
        RECIPE.early_stop_patience,
        RECIPE.checkpoint_every,
    )
    # No budget given: the recipe's for where training runs (this machine has no GPU; a deployment
    # trains on the GPU pool).
    assert recipe_for(settings).train_config(settings).max_minutes == RECIPE.cpu_minutes
    on_gpu_pool = settings.model_copy(update={"train_deployment": "fine-tune/gpu"})
    assert recipe_for(on_gpu_pool).train_config(on_gpu_pool).max_minutes == RECIPE.minutes
    # The trainer's own default agrees with the recipe's margin (they once said 0.05 and 0.15).
    assert TrainConfig(max_steps=1).selection_wer_margin == RECIPE.selection_wer_margin


def test_settings_override_single_values(monkeypatch, tmp_path):
    monkeypatch.setenv("PROVOICE_HOME", str(tmp_path))
    monkeypatch.setenv("PROVOICE_TRAIN_BATCH_SIZE", "4")
    monkeypatch.setenv("PROVOICE_TRAIN_LEARNING_RATE", "0.0003")
    monkeypatch.setenv("PROVOICE_TRAIN_SELECTION_WER_MARGIN", "0.1")
    monkeypatch.setenv("PROVOICE_PVC_TRAIN_MINUTES", "7")
    settings = Settings()
    recipe = recipe_for(settings)
    assert (recipe.batch_size, recipe.learning_rate, recipe.selection_wer_margin) == (4, 3e-4, 0.1)
    assert recipe.minutes == recipe.cpu_minutes == recipe.default_minutes(settings) == 7
    assert recipe.module_lr == RECIPE.module_lr and recipe.name == RECIPE.name
    config = recipe.train_config(settings, batch_size=2)
    assert (config.batch_size, config.learning_rate, config.max_minutes) == (2, 3e-4, 7)
    with pytest.raises(ValueError):
        Settings(train_batch_size=0)


def test_the_record_round_trips_and_the_scales_follow_the_recipe():
    config = RECIPE.train_config(Settings(), max_steps=10)
    assert TrainConfig.from_dict(config.to_dict()) == config and config.to_dict()["recipe"] == RECIPE.name
    assert RECIPE.to_dict()["module_lr"] == dict(RECIPE.module_lr) and "notes" not in RECIPE.to_dict()
    base = InferenceScales(noise_scale=0.667, length_scale=1.0, noise_w=0.8)
    assert RECIPE.inference_scales(base).noise_scale == RECIPE.noise_scale
    assert RECIPE.inference_scales(dataclasses.replace(base, noise_scale=0.1)).noise_scale == 0.1
