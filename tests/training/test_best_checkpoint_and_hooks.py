"""--best_metric keeps the best checkpoint beside the newest ones and the test uses it; top-5
accuracy; hooks at loop boundaries, early stopping, and a hook that raises (the run stops with its
checkpoint saved)."""

import json

import numpy as np
import pytest

from core.data.digits import load_digits
from training import (ConfigError, EarlyStopping, HookError, StopTraining, TrainConfig, evaluate_checkpoint,
                      train_and_evaluate)
from training.best_checkpoint import BEST_DIRECTORY, RECORD_FILE
from training.metric_goals import parse_metric_goal

BASE = dict(model="mlp", dataset="digits", batch_size=32, train_steps=40, warmup_steps=2, steps_per_loop=10,
            checkpoint_every=10, eval_every=10, precision="float32", jit_compile="false", export=False)
RECORDED = []  # What make_recording_hooks' hook saw, for the --hooks test.


def make_recording_hooks(config):
    """A --hooks factory: one hook that records each boundary."""
    return [lambda step, metrics, model: RECORDED.append((step, metrics))]


def _config(tmp_path, **overrides):
    return TrainConfig(**{**BASE, "model_dir": str(tmp_path / "run"), **overrides})


def test_the_best_checkpoint_outlives_rotation_and_is_what_the_run_tests(tmp_path):
    # "min:" on an accuracy picks the least accurate evaluation, so the best is an early one that
    # keep_checkpoints=1 rotates out of the run directory.
    killed_save = tmp_path / "run" / BEST_DIRECTORY / "ckpt-3_temp"  # What a killed best save leaves.
    killed_save.mkdir(parents=True)
    (killed_save / "part-00000-of-00001.data-00000-of-00001").write_bytes(b"\0" * 10)
    lines = []
    result = train_and_evaluate(_config(tmp_path, keep_checkpoints=1, best_metric="min:validation/accuracy"),
                                log=lines.append)
    run = tmp_path / "run"
    accuracies = {step: metrics["accuracy"] for step, metrics in result.validation_history}
    best_step = min(accuracies, key=lambda step: (accuracies[step], step))
    assert best_step < 40, accuracies  # Otherwise this test would not test rotation.
    record = json.loads((run / BEST_DIRECTORY / RECORD_FILE).read_text())
    assert record == {"metric": "validation/accuracy", "lower_is_better": True, "value": accuracies[best_step],
                      "step": best_step, "checkpoint": f"ckpt-{best_step}"}
    assert sorted(path.name for path in run.glob("ckpt-*.index")) == ["ckpt-40.index"]
    assert sorted(path.name for path in (run / BEST_DIRECTORY).iterdir()) == [
        RECORD_FILE, f"ckpt-{best_step}.data-00000-of-00001", f"ckpt-{best_step}.index"]
    assert result.best_checkpoint == str(run / BEST_DIRECTORY / f"ckpt-{best_step}")
    assert f"Testing the best checkpoint {result.best_checkpoint} " in "\n".join(lines)

    # The test metrics are the best checkpoint's.
    best = evaluate_checkpoint(_config(tmp_path, mode="evaluate", checkpoint="best"), log=lambda line: None)
    for name, value in result.test_metrics.items():
        np.testing.assert_allclose(value, best.metrics[name], rtol=1e-6, err_msg=name)

    # Top-5 accuracy of the 10 digits, recomputed from the tested model's logits.
    images, labels = next(iter(load_digits().test.batch(10_000)))
    logits = result.model(images, training=False).numpy()
    in_top5 = (np.argsort(logits, axis=1)[:, -5:] == labels.numpy()[:, None]).any(axis=1)
    np.testing.assert_allclose(result.test_metrics["top5_accuracy"], in_top5.mean(), rtol=1e-6)
    assert result.test_metrics["top5_accuracy"] >= result.test_metrics["accuracy"]

    # A resumed, extended run keeps comparing against the stored best value: no evaluation of the
    # better-trained weights is "better" by min accuracy, so the record stays. With --nouse_best it
    # tests its newest weights (with the best it would repeat the figures above).
    lines = []
    extended = train_and_evaluate(_config(tmp_path, keep_checkpoints=1, best_metric="min:validation/accuracy",
                                          train_steps=50, use_best=False), log=lines.append)
    assert json.loads((run / BEST_DIRECTORY / RECORD_FILE).read_text()) == record
    assert not any(line.startswith(("New best", "Testing the best")) for line in lines), lines
    assert extended.test_metrics["loss"] != result.test_metrics["loss"] and extended.best_checkpoint is None


@pytest.mark.parametrize("flag,value,message", [
    ("best_metric", "validation/f1", "--best_metric='validation/f1': the task reports no metric 'f1'; it has "
     "validation/loss, validation/top5_accuracy, validation/accuracy"),
    ("early_stopping_metric", "train/top1", "--early_stopping_metric='train/top1': the task reports no metric "
     "'top1'; it has train/loss, train/top5_accuracy, train/accuracy"),
    ("hooks", "tests.training.no_such_hooks:make_hooks", "--hooks='tests.training.no_such_hooks:make_hooks': "
     "ModuleNotFoundError: No module named 'tests.training.no_such_hooks'"),
    ("hooks", "tests.training.test_best_checkpoint_and_hooks:RECORDED", "--hooks="
     "'tests.training.test_best_checkpoint_and_hooks:RECORDED': TypeError: 'list' object is not callable"),
])
def test_a_metric_the_task_lacks_or_a_bad_hook_is_one_line_before_the_directory_is_touched(tmp_path, flag, value,
                                                                                          message):
    extra = {"early_stopping_patience": 2} if flag == "early_stopping_metric" else {}
    with pytest.raises(ConfigError) as error:
        train_and_evaluate(_config(tmp_path, **{flag: value}, **extra), log=lambda line: None)
    assert str(error.value) == message
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("overrides,message", [  # Each flag's plain bad value: tests/training/test_config.py.
    (dict(best_metric="top:validation/accuracy"), "--best_metric='top:validation/accuracy': the prefix before ':' "
     "must be min or max"),
    (dict(early_stopping_metric="validation/loss"), "--early_stopping_patience=0: early stopping needs both "
     "--early_stopping_metric and a patience of 1 or more evaluations"),
])
def test_bad_evaluation_flags_are_one_line(tmp_path, overrides, message):
    with pytest.raises(ConfigError) as error:
        _config(tmp_path, **overrides)
    assert str(error.value) == message


def test_the_direction_rule():
    lower = {text: parse_metric_goal(text).lower_is_better for text in (
        "validation/loss", "validation/mean_absolute_error", "validation/perplexity", "validation/bits_per_byte",
        "validation/accuracy", "train/top5_accuracy", "min:validation/accuracy", "max:validation/loss")}
    assert lower == {"validation/loss": True, "validation/mean_absolute_error": True, "validation/perplexity": True,
                     "validation/bits_per_byte": True, "validation/accuracy": False, "train/top5_accuracy": False,
                     "min:validation/accuracy": True, "max:validation/loss": False}


def test_early_stopping_ends_training_with_a_checkpoint_and_the_test_follows(tmp_path):
    # "max:" on the loss, which falls: the second evaluation does not improve on the first.
    RECORDED.clear()
    lines = []
    result = train_and_evaluate(
        _config(tmp_path, checkpoint_every=0, early_stopping_metric="max:validation/loss", early_stopping_patience=1,
                hooks="tests.training.test_best_checkpoint_and_hooks:make_recording_hooks"), log=lines.append)
    assert result.final_step == 20
    assert (tmp_path / "run" / "ckpt-20.index").exists()  # checkpoint_every=0: saved for the stop.
    first_loss = result.validation_history[0][1]["loss"]
    assert (f"Stopped by a hook: early stopping at step 20: validation/loss has not improved on {first_loss:.4f} "
            "for 1 evaluation(s)") in lines
    assert np.isfinite(result.test_metrics["loss"])
    # The --hooks hook came first and saw both boundaries, with the train and validation metrics.
    assert [step for step, _ in RECORDED] == [10, 20]
    for (step, metrics), (validated_step, validation) in zip(RECORDED, result.validation_history):
        assert step == validated_step
        assert sorted(metrics) == sorted(f"{split}/{name}" for split in ("train", "validation") for name in validation)
        assert {name: metrics[f"validation/{name}"] for name in validation} == validation


def test_a_hook_that_raises_stops_the_run_with_its_checkpoint_saved(tmp_path):
    seen = []

    def fragile(step, metrics, model):
        seen.append(step)
        if step == 30:
            raise ValueError("disk quota for plots exceeded")

    def stop_if_asked(step, metrics, model):  # Never reached at step 30: the first failure ends the calls.
        if step == 30:
            raise StopTraining("unreachable")

    with pytest.raises(HookError) as error:
        train_and_evaluate(_config(tmp_path, checkpoint_every=0, eval_every=0), hooks=[fragile, stop_if_asked],
                           log=lambda line: None)
    run = tmp_path / "run"
    assert str(error.value) == (
        "hook tests.training.test_best_checkpoint_and_hooks.test_a_hook_that_raises_stops_the_run_with_its_checkpoint_"
        f"saved.<locals>.fragile raised ValueError at step 30: disk quota for plots exceeded; the run stopped with "
        f"checkpoint {run / 'ckpt-30'}")
    assert seen == [10, 20, 30]
    # Nothing lost: the run resumes from the step the hook stopped at.
    lines = []
    train_and_evaluate(_config(tmp_path, checkpoint_every=0, eval_every=0), log=lines.append)
    assert any(line.startswith(f"Resumed from {run / 'ckpt-30'} at step 30") for line in lines), lines


def test_early_stopping_counts_evaluations_of_its_metric_only():
    stopper = EarlyStopping("validation/accuracy", patience=2, log=lambda line: None)
    stopper(10, {"train/loss": 1.0, "validation/accuracy": 0.5}, None)
    stopper(15, {"train/loss": 0.9}, None)  # No validation at this boundary: not counted.
    stopper(20, {"validation/accuracy": 0.5}, None)  # Equal is not better: 1 of 2.
    with pytest.raises(StopTraining, match=r"^early stopping at step 30: validation/accuracy has not improved on "
                                           r"0\.5000 for 2 evaluation\(s\)$"):
        stopper(30, {"validation/accuracy": 0.4}, None)
