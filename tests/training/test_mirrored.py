"""train_and_evaluate under MirroredStrategy on the two logical CPU devices of tests/conftest.py.

Two replicas with global batch B must train like one replica with batch B: same examples per
step (core/distributed_input.py), loss averaged over the global batch, metrics and summaries
reduced over replicas. The model has no BatchNorm: BatchNorm normalizes each replica's half
batch with that half's statistics, which is a different computation from one replica's.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from layers.registry import create_model
from training import ConfigError, TrainConfig, train_and_evaluate

# SGD, not Adam: Adam divides out the gradient's scale, so it would hide a loss averaged over
# the wrong batch size; with SGD such a bug doubles the update.
SETTINGS = dict(model="mlp", dataset="digits", optimizer="sgd", learning_rate=0.05, lr_schedule="constant",
                train_steps=10, warmup_steps=0, steps_per_loop=5, eval_every=5, checkpoint_every=5,
                batch_size=32, jit_compile="false")
MIRRORED = dict(distribution_strategy="mirrored", num_replicas=2)
# Largest ||weights(2 replicas) - weights(1 replica)|| / ||weights(1 replica) - initial weights||,
# i.e. the disagreement as a fraction of what 10 steps of training moved the weights. Measured:
# ~1e-7 in float32 (summation order), ~1-2% in float16/bfloat16, whose matmuls round per-replica
# half batches differently. A loss averaged over the per-replica batch would give ~1.
TOLERANCE = {"float32": 1e-5, "mixed_float16": 0.05, "mixed_bfloat16": 0.05}


class Run:
    """A finished run, with the weights its model started from and its log."""

    def __init__(self, model_dir, precision, model_fn=None, crash_after=None, **overrides):
        self.lines = []
        self.initial = None
        self.model_dir = model_dir
        build = model_fn or (lambda num_classes: create_model("mlp", num_classes))

        def model_with_initial_weights(num_classes):
            model = build(num_classes)
            model(tf.zeros((1, 8, 8, 1)))
            self.initial = [v.numpy() for v in model.variables]
            return model

        def log(line):
            self.lines.append(line)
            if crash_after and line == f"Saved checkpoint {model_dir}/ckpt-{crash_after}":
                raise Interrupted()

        config = TrainConfig(**dict(SETTINGS, precision=precision, model_dir=str(model_dir), **overrides))
        self.result = train_and_evaluate(config, model_fn=model_with_initial_weights, log=log)
        self.weights = [v.numpy() for v in self.result.model.variables]

    def progress(self, step):
        """The loss and accuracy figures of the progress line at `step`."""
        line = next(line for line in self.lines if line.startswith(f"step {step}/"))
        return line.split(" | ")[1:3]


class Interrupted(Exception):
    pass


def _norm(arrays):
    return np.sqrt(sum(float(np.sum(np.square(a.astype(np.float64)))) for a in arrays))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Runs by (precision, replicas), trained on demand and shared between tests."""
    cache = {}

    def get(precision, replicas):
        if (precision, replicas) not in cache:
            model_dir = tmp_path_factory.mktemp(f"{precision}-{replicas}")
            cache[precision, replicas] = Run(model_dir, precision, **(MIRRORED if replicas == 2 else {}))
        return cache[precision, replicas]

    return get


@pytest.mark.parametrize("precision", ["float32", "mixed_float16", "mixed_bfloat16"])
def test_two_replicas_train_the_weights_of_one_replica_with_the_global_batch(runs, precision):
    one, two = runs(precision, 1), runs(precision, 2)
    for a, b in zip(one.initial, two.initial):
        np.testing.assert_array_equal(a, b)
    moved = _norm([w - w0 for w, w0 in zip(one.weights, one.initial)])
    disagreement = _norm([a - b for a, b in zip(one.weights, two.weights)])
    assert moved > 0.1
    assert disagreement / moved < TOLERANCE[precision]
    # The validation pass is distributed too: same examples, same verdicts.
    assert two.result.validation_history[-1][1]["loss"] == pytest.approx(
        one.result.validation_history[-1][1]["loss"], rel=TOLERANCE[precision])


def _scalars(model_dir, tag):
    """{step: value} of a TensorBoard scalar written under model_dir/train."""
    values = {}
    for path in tf.io.gfile.glob(f"{model_dir}/train/events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                if value.tag == tag:
                    values[event.step] = float(tf.make_ndarray(value.tensor))
    return values


def test_training_metrics_and_summaries_are_reduced_over_replicas(runs):
    one, two = runs("float32", 1), runs("float32", 2)
    # Each replica's metric holds its half of the batches; reading it sums both halves.
    assert two.progress(10) == one.progress(10)
    for (step_one, one_metrics), (step_two, two_metrics) in zip(one.result.validation_history,
                                                                two.result.validation_history):
        assert step_one == step_two
        assert two_metrics == pytest.approx(one_metrics, rel=1e-5)
    one_loss = _scalars(one.model_dir, "loss")
    two_loss = _scalars(two.model_dir, "loss")
    assert sorted(two_loss) == [5, 10]
    assert two_loss == pytest.approx(one_loss, rel=1e-5)


@pytest.mark.parametrize("precision", ["float32", "mixed_float16"])
def test_clipping_accumulation_and_weight_averaging_agree_on_one_and_two_replicas(tmp_path, precision):
    # Clipping bounds the norm of the gradient summed over replicas; each replica accumulates
    # two micro-batches of its half; the average follows identical weights on every replica.
    toolbox = dict(clip_grad_norm=0.1, grad_accum_steps=2, ema_decay=0.9)
    one = Run(tmp_path / "one", precision, **toolbox)
    two = Run(tmp_path / "two", precision, **toolbox, **MIRRORED)
    moved = _norm([w - w0 for w, w0 in zip(one.weights, one.initial)])
    assert _norm([a - b for a, b in zip(one.weights, two.weights)]) / moved < TOLERANCE[precision]
    norms = _scalars(two.model_dir, "gradient_norm")
    assert min(norms.values()) > 0.1  # Clipping was active at every step.
    assert norms == pytest.approx(_scalars(one.model_dir, "gradient_norm"), rel=TOLERANCE[precision])
    # Evaluation uses the weight average, so this compares the averages too.
    assert two.result.validation_history[-1][1]["loss"] == pytest.approx(
        one.result.validation_history[-1][1]["loss"], rel=TOLERANCE[precision])

def test_a_run_started_on_two_replicas_resumes_on_one(runs, tmp_path):
    # The mirrored run's checkpoint has no data iterator (not checkpointable there); the resumed
    # single-device run positions its input by the restored step instead.
    with pytest.raises(Interrupted):
        Run(tmp_path, "float32", crash_after=5, **MIRRORED)
    resumed = Run(tmp_path, "float32")
    assert any(line.endswith("at step 5; input replayed to step 5") for line in resumed.lines), resumed.lines
    straight = runs("float32", 1)
    moved = _norm([w - w0 for w, w0 in zip(straight.weights, straight.initial)])
    assert _norm([a - b for a, b in zip(straight.weights, resumed.weights)]) / moved < TOLERANCE["float32"]

class NormalizedDropoutNet(keras.Model):
    """Dense -> BatchNorm -> ReLU -> Dropout -> logits: state that replicas and resumes must carry."""

    def __init__(self, num_classes):
        super().__init__()
        self.flatten = keras.layers.Flatten()
        self.hidden = keras.layers.Dense(32)
        self.norm = keras.layers.BatchNormalization(momentum=0.8)
        self.dropout = keras.layers.Dropout(0.2, seed=1)
        self.classifier = keras.layers.Dense(num_classes, dtype="float32")

    def call(self, images, training=False):
        x = tf.nn.relu(self.norm(self.hidden(self.flatten(images)), training=training))
        return self.classifier(self.dropout(x, training=training))


def test_a_mirrored_run_resumes_exactly_with_batch_norm_and_dropout_state(tmp_path):
    settings = dict(MIRRORED, precision="float32", model_fn=NormalizedDropoutNet, deterministic=True)
    straight = Run(tmp_path / "straight", **settings)
    with pytest.raises(Interrupted):
        Run(tmp_path / "resumed", crash_after=5, **settings)
    resumed = Run(tmp_path / "resumed", **settings)
    assert any(line.startswith("Resumed from") and line.endswith("at step 5; input replayed to step 5")
               for line in resumed.lines), resumed.lines
    for a, b, variable in zip(straight.weights, resumed.weights, straight.result.model.variables):
        np.testing.assert_array_equal(a, b, err_msg=variable.path)
    # The BatchNorm statistics were averaged at each loop boundary: one value on every replica.
    for statistic in (resumed.result.model.norm.moving_mean, resumed.result.model.norm.moving_variance):
        first, second = [np.asarray(c) for c in statistic.value.values]
        np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize("overrides,message", [
    (dict(jit_compile="true"), "--jit_compile=true: XLA has no cross-replica collectives on CPU; "
                               "use --jit_compile=auto or false"),
    (dict(batch_size=33), "--batch_size=33 does not divide evenly over 2 replicas"),
    # In a fresh process --num_replicas=3 splits the CPU in three; here the test session's
    # TensorFlow already runs on two logical devices.
    (dict(num_replicas=3), "--num_replicas=3: cannot split the CPU into 3 logical devices"),
])
def test_what_the_machine_cannot_do_is_refused_in_one_line(tmp_path, overrides, message):
    settings = {**SETTINGS, **MIRRORED, "precision": "float32", "model_dir": str(tmp_path), **overrides}
    config = TrainConfig(**settings)
    with pytest.raises(ConfigError) as error:
        train_and_evaluate(config, log=lambda line: None)
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value)
