"""A serving install that reaches a train-only package says which extra brings it."""

from __future__ import annotations

import pytest

from provoice.extras import MissingExtra, missing_extra, require_train


def test_a_missing_train_only_module_names_the_train_extra_even_behind_another_error():
    try:
        try:
            raise ModuleNotFoundError("No module named 'torch.nn'", name="torch.nn")
        except ModuleNotFoundError as exc:
            raise RuntimeError("loading the generator failed") from exc
    except RuntimeError as exc:
        missing = missing_extra(exc)
    assert isinstance(missing, MissingExtra)
    assert "torch" in str(missing) and "pip install 'provoice[train]'" in str(missing)


def test_any_other_missing_module_is_not_an_extra():
    assert missing_extra(ModuleNotFoundError("No module named 'yaml'", name="yaml")) is None
    assert missing_extra(ValueError("no")) is None


def test_require_train_refuses_before_the_work_when_a_package_is_absent():
    require_train("reading JSON", "json")
    with pytest.raises(MissingExtra, match="verifying a consent recording needs no_such_package_here"):
        require_train("verifying a consent recording", "no_such_package_here")
