"""Whole runs on digits under each precision with the optimizer toolbox on: accuracy, logs, state."""

import glob

import numpy as np
import pytest
import tensorflow as tf

from training import TrainConfig, train_and_evaluate

PRECISIONS = ["float32", "mixed_float16", "mixed_bfloat16"]


def _scalars(logdir):
    """{tag: [values in step order]} from a TensorBoard event directory."""
    scalars = {}
    for path in sorted(glob.glob(f"{logdir}/events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                scalars.setdefault(value.tag, []).append(float(tf.make_ndarray(value.tensor)))
    return scalars


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One short run per precision (~3 s of CPU each): MLP, AdamW, clipping, accumulation, EMA."""
    results = {}
    for policy in PRECISIONS:
        model_dir = tmp_path_factory.mktemp(policy)
        config = TrainConfig(model="mlp", train_steps=150, warmup_steps=15, steps_per_loop=50, eval_every=0,
                             precision=policy, optimizer="adamw", clip_grad_norm=1.0, grad_accum_steps=2,
                             ema_decay=0.99, model_dir=str(model_dir))
        lines = []
        results[policy] = train_and_evaluate(config, log=lines.append), lines, model_dir
    return results


def test_every_precision_reaches_the_same_accuracy_band(runs):
    accuracies = {policy: result.test_accuracy for policy, (result, _, _) in runs.items()}
    # 150 steps of an MLP on digits: 0.96-0.98 in each precision here.
    assert min(accuracies.values()) >= 0.93, accuracies
    assert max(accuracies.values()) - min(accuracies.values()) <= 0.03, accuracies


@pytest.mark.parametrize("policy", PRECISIONS)
def test_the_run_logs_its_precision_and_writes_the_toolbox_scalars(runs, policy):
    result, lines, model_dir = runs[policy]
    assert result.precision == policy
    assert any(line.endswith(f"precision {policy}: requested") for line in lines)
    scalars = _scalars(model_dir / "train")
    assert len(scalars["gradient_norm"]) == 3 and all(np.isfinite(scalars["gradient_norm"]))
    assert scalars["learning_rate"][-1] < scalars["learning_rate"][0]  # The cosine decays.
    if policy == "mixed_float16":
        assert all(scale >= 1.0 for scale in scalars["loss_scale"])
    else:
        assert "loss_scale" not in scalars


@pytest.mark.parametrize("policy", PRECISIONS)
def test_the_checkpoint_holds_the_averages_and_the_loss_scale(runs, policy):
    result, _, model_dir = runs[policy]
    names = [name for name, _ in tf.train.list_variables(str(model_dir / "ckpt-150"))]
    assert sum(name.startswith("ema/averages/") for name in names) == len(result.model.trainable_variables)
    assert any(name.startswith("optimizer/") and "dynamic_scale" in name for name in names) == (
        policy == "mixed_float16")
    # The run ends with the model's own weights in place, not the averages it was evaluated with.
    with result.ema.swapped_in():
        averaged = [v.numpy() for v in result.model.trainable_variables]
    assert not np.array_equal(averaged[0], result.model.trainable_variables[0].numpy())
