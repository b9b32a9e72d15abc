"""--mode=evaluate and --mode=continuous_evaluate: a checkpoint's test and report without training,
and a sidecar that validates a trainer's checkpoints from another process. Neither takes the run
directory's lock nor writes a checkpoint; bad directories fail with one line naming the path."""

import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

from core.checkpointing import CheckpointError
from core.run_config_store import RunConfigMismatch
from layers.models import MLP
from training import TrainConfig, evaluate_checkpoint, evaluate_continuously, train_and_evaluate
from training.evaluation_run import SIDECAR_DIRECTORY
from training.tasks.image_classification import ImageClassification

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# XLA off in training too, so the evaluation job runs the very ops the run's own test ran.
BASE = dict(model="mlp", dataset="digits", batch_size=32, train_steps=20, warmup_steps=2, steps_per_loop=10,
            checkpoint_every=10, eval_every=10, precision="float32", jit_compile="false", export=False)


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """(run directory, TrainResult) of a 20-step mlp run with ckpt-10 and ckpt-20."""
    model_dir = tmp_path_factory.mktemp("finished") / "run"
    result = train_and_evaluate(TrainConfig(**BASE, model_dir=str(model_dir)), log=lambda line: None)
    return model_dir, result


def _copy(finished_run, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(finished_run[0], run)
    return run


def _snapshot(directory):
    return {path.relative_to(directory): path.read_bytes() for path in sorted(directory.rglob("*")) if path.is_file()}


def test_evaluate_tests_the_newest_checkpoint_as_the_run_did_and_writes_the_report(finished_run, tmp_path):
    run = _copy(finished_run, tmp_path)
    before = _snapshot(run)
    lines = []
    result = evaluate_checkpoint(TrainConfig(**BASE, model_dir=str(run), mode="evaluate"), log=lines.append)
    assert result.checkpoint == str(run / "ckpt-20") and result.step == 20
    assert list(result.metrics) == ["loss", "top5_accuracy", "accuracy"]
    for name, value in finished_run[1].test_metrics.items():
        np.testing.assert_allclose(result.metrics[name], value, rtol=1e-6, err_msg=name)
    assert result.report["test_accuracy"] == pytest.approx(result.metrics["accuracy"], abs=1e-6)
    # Only the report was added: no checkpoint, lock or run_config.json was written.
    after = _snapshot(run)
    assert {path.name for path in set(after) - set(before)} == {"evaluation_report.json", "confusion_matrix.png"}
    assert all(after[path] == content for path, content in before.items())

    older = evaluate_checkpoint(TrainConfig(**BASE, model_dir=str(run), mode="evaluate",
                                            checkpoint=str(run / "ckpt-10")), log=lines.append)
    assert older.step == 10 and older.metrics["loss"] != result.metrics["loss"]


def test_evaluate_restores_the_runs_weight_average(tmp_path):
    # With --ema_decay the run tests the averaged weights; so must the evaluation job.
    config = TrainConfig(**{**BASE, "train_steps": 10, "eval_every": 0, "ema_decay": 0.9,
                            "model_dir": str(tmp_path / "run")})
    trained = train_and_evaluate(config, log=lambda line: None)
    evaluated = evaluate_checkpoint(TrainConfig(**{**config.to_dict(), "mode": "evaluate"}), log=lambda line: None)
    for name, value in trained.test_metrics.items():
        np.testing.assert_allclose(evaluated.metrics[name], value, rtol=1e-6, err_msg=name)


def _remove_run_config(run):
    (run / "run_config.json").unlink()


# (case, change to the copied run, config changes, evaluate_checkpoint arguments, error, message).
BAD_DIRECTORIES = [
    ("no checkpoint", lambda run: shutil.rmtree(run) or run.mkdir(), {}, {}, CheckpointError,
     "--model_dir={run}: holds no checkpoint to evaluate"),
    ("another model's run", None, dict(model="small_cnn"), {}, RunConfigMismatch,
     "--model_dir={run} holds a run made with other flags (--model='mlp' there, 'small_cnn' here); resume it "
     "with the flags in {run}/run_config.json, or pick a new --model_dir"),
    ("another model's checkpoint", _remove_run_config, {},
     dict(model_fn=lambda num_classes: MLP(num_classes, hidden_units=(8, 8), name="mlp")), CheckpointError,
     "checkpoint {run}/ckpt-20 does not fit this run: model_variables[0] (mlp/hidden0/dense/kernel) has "
     "shape (64, 8) here but (64, 512) in the checkpoint (a different model or layer sizes)"),
    ("a missing --checkpoint", None, dict(checkpoint="{run}/ckpt-15"), {}, CheckpointError,
     "--checkpoint={run}/ckpt-15: no such checkpoint (no {run}/ckpt-15.index)"),
    ("--checkpoint=best without one", None, dict(checkpoint="best"), {}, CheckpointError,
     "--checkpoint=best: {run} holds no best checkpoint (the run needs --best_metric)"),
]


@pytest.mark.parametrize("change,overrides,arguments,error_type,message", [case[1:] for case in BAD_DIRECTORIES],
                         ids=[case[0] for case in BAD_DIRECTORIES])
def test_evaluate_refuses_a_bad_directory_with_one_line(finished_run, tmp_path, change, overrides, arguments,
                                                       error_type, message):
    run = _copy(finished_run, tmp_path)
    if change:
        change(run)
    before = _snapshot(run)
    overrides = {name: value.format(run=run) for name, value in overrides.items()}
    config = TrainConfig(**{**BASE, "model_dir": str(run), "mode": "evaluate", **overrides})
    if "model_fn" in arguments:  # The task with another model.
        arguments = dict(task=ImageClassification(config, model_fn=arguments["model_fn"]))
    with pytest.raises(error_type) as error:
        evaluate_checkpoint(config, log=lambda line: None, **arguments)
    assert str(error.value) == message.format(run=run)
    assert _snapshot(run) == before


def test_the_script_says_a_directory_has_no_checkpoint_in_one_line(tmp_path):
    from training import train as train_script

    train_script.FLAGS(["train", "--mode=evaluate", f"--model_dir={tmp_path}"])
    try:
        with pytest.raises(SystemExit) as exit_info:
            train_script.main(["train"])
    finally:
        train_script.FLAGS.unparse_flags()
    assert exit_info.value.code == f"error: --model_dir={tmp_path}: holds no checkpoint to evaluate"
    assert os.listdir(tmp_path) == []


def test_the_script_evaluates_then_watches_with_the_trainers_flags(finished_run, tmp_path, capsys):
    from training import train as train_script

    run = _copy(finished_run, tmp_path)
    flags = [f"--{name}={value}" for name, value in BASE.items() if name != "export"] + [f"--model_dir={run}"]
    for mode in ("evaluate", "continuous_evaluate"):
        train_script.FLAGS(["train", *flags, f"--mode={mode}"])
        try:
            train_script.main(["train"])
        finally:
            train_script.FLAGS.unparse_flags()
    lines = capsys.readouterr().out.splitlines()
    test_lines = [line for line in lines if line.startswith("Test ")]
    assert test_lines == [f"Test {name.replace('_', ' ')}: {value:.4f}"
                          for name, value in finished_run[1].test_metrics.items()]
    assert any(line.startswith("step 20: validation loss ") for line in lines)
    assert lines[-1] == "Reached the final step 20; the sidecar ends"


def test_sidecar_on_a_stopped_run_evaluates_its_newest_checkpoint_and_ends(finished_run, tmp_path):
    run = _copy(finished_run, tmp_path)
    lines = []
    # --train_steps may differ as on resume; the run stopped at 20 of 100, and no trainer holds it.
    results = evaluate_continuously(TrainConfig(**{**BASE, "model_dir": str(run), "mode": "continuous_evaluate",
                                                   "train_steps": 100}), log=lines.append, poll_seconds=0.05)
    assert [result.step for result in results] == [20]
    validation_at_20 = dict(finished_run[1].validation_history)[20]
    for name, value in validation_at_20.items():
        np.testing.assert_allclose(results[0].metrics[name], value, rtol=1e-6, err_msg=name)
    assert lines[-1].startswith(f"No trainer holds {run} (its lock is released)")
    assert list((run / SIDECAR_DIRECTORY).glob("events.out.tfevents.*"))


def test_sidecar_validates_a_trainers_checkpoints_from_another_process(tmp_path):
    """The trainer is a subprocess; the sidecar, in this process, starts on the empty directory,
    waits for it, validates each new checkpoint once and ends at the final step."""
    run = tmp_path / "run"
    settings = dict(BASE, train_steps=60, checkpoint_every=20, eval_every=0, keep_checkpoints=2)
    flags = [f"--{name}={value}" for name, value in settings.items() if name != "export"]
    trainer = subprocess.Popen([sys.executable, "-m", "training.train", *flags, "--noexport", f"--model_dir={run}"],
                               cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        started = time.monotonic()
        results = evaluate_continuously(TrainConfig(**settings, model_dir=str(run), mode="continuous_evaluate"),
                                        log=lines.append, poll_seconds=0.05)
        stdout, stderr = trainer.communicate(timeout=120)
    finally:
        trainer.kill()
    assert trainer.returncode == 0, stderr  # The sidecar never took the lock the trainer holds.
    assert time.monotonic() - started < 120
    steps = [result.step for result in results]
    assert steps == sorted(set(steps)) and steps[-1] == 60 and set(steps) <= {20, 40, 60}, lines
    # The trainer's own validation of its final weights, to the 4 decimals it prints.
    final_validation = next(line for line in stdout.splitlines() if line.startswith("step 60: validation "))
    assert any(line.startswith(final_validation + " (") for line in lines), (final_validation, lines)
    assert lines[-1] == "Reached the final step 60; the sidecar ends"
    assert list((run / SIDECAR_DIRECTORY).glob("events.out.tfevents.*"))
