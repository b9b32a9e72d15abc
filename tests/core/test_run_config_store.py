"""run_config.json: a run directory refuses a resume with settings that may not change."""

import json

import pytest

from core.run_config_store import (FLAG_FILE, RUN_CONFIG_FILE, RunConfigMismatch, check_resumable, read_run_config,
                                   write_run_config)

STORED = {"model": "mlp", "batch_size": 32, "learning_rate": 0.003, "train_steps": 100, "hidden": (64, 64)}
CHANGEABLE = {"train_steps"}


def test_round_trip_and_an_unchanged_resume(tmp_path):
    write_run_config(tmp_path, STORED)
    assert read_run_config(tmp_path) == dict(STORED, hidden=[64, 64])
    assert check_resumable(tmp_path, STORED, CHANGEABLE) == []
    # No temporary file left; the flag file (absl --flagfile) beside the JSON.
    assert sorted(path.name for path in tmp_path.iterdir()) == [FLAG_FILE, RUN_CONFIG_FILE]


def test_changeable_settings_are_reported_not_refused(tmp_path):
    write_run_config(tmp_path, STORED)
    assert check_resumable(tmp_path, dict(STORED, train_steps=300), CHANGEABLE) == [("train_steps", 100, 300)]


def test_every_differing_setting_is_named_in_one_line(tmp_path):
    write_run_config(tmp_path, STORED)
    with pytest.raises(RunConfigMismatch) as error:
        check_resumable(tmp_path, dict(STORED, model="small_cnn", batch_size=64, train_steps=5), CHANGEABLE)
    assert str(error.value) == (
        f"--model_dir={tmp_path} holds a run made with other flags (--batch_size=32 there, 64 here; "
        f"--model='mlp' there, 'small_cnn' here); resume it with the flags in {tmp_path / RUN_CONFIG_FILE}, "
        "or pick a new --model_dir")


def test_settings_newer_than_the_stored_run_do_not_block(tmp_path):
    write_run_config(tmp_path, STORED)
    assert check_resumable(tmp_path, dict(STORED, ema_decay=0.999), CHANGEABLE) == []


def test_no_stored_config_allows_anything(tmp_path):
    assert check_resumable(tmp_path, STORED, CHANGEABLE) == []


@pytest.mark.parametrize("content,problem", [
    ("{\"model\": ", "cannot be read as JSON (Expecting value: line 1 column 11 (char 10))"),
    ("[1, 2]", "holds a JSON list, not an object of flag values"),
])
def test_unreadable_config_is_an_error_naming_the_file(tmp_path, content, problem):
    (tmp_path / RUN_CONFIG_FILE).write_text(content)
    with pytest.raises(RunConfigMismatch) as error:
        check_resumable(tmp_path, STORED, CHANGEABLE)
    assert str(error.value).startswith(f"{tmp_path / RUN_CONFIG_FILE}: {problem}")


def test_written_file_is_plain_sorted_json(tmp_path):
    write_run_config(tmp_path, {"b": 1, "a": True})
    text = (tmp_path / RUN_CONFIG_FILE).read_text()
    assert json.loads(text) == {"a": True, "b": 1}
    assert text.index('"a"') < text.index('"b"')
