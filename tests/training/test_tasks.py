"""Any task through the same run: the README's regression, a two-optimizer GAN, and the errors a
task that cannot run gets, one line each, before the run directory exists."""

import runpy

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.training.adversarial_task import TinyGan
from tests.training.task_runs import GAN_TASK, QUICK, README_TASK, checkpoint_numbers, install_readme_task, train
from training import TaskError
from training.tasks.image_classification import classification_loss, hard_labels


def test_readme_custom_task_runs_as_written_and_learns_the_function(tmp_path, monkeypatch, capsys):
    install_readme_task(tmp_path)
    monkeypatch.chdir(tmp_path)  # The example writes runs/sine relative to the working directory.
    namespace = runpy.run_path(str(tmp_path / "regression.py"), run_name="__main__")
    result = namespace["result"]
    assert list(result.test_metrics) == ["loss", "mean_absolute_error"]
    # Predicting the training targets' mean is the baseline any learner must beat, by far.
    task = namespace["SineRegression"](namespace["config"])
    train_targets, (_, test_targets) = task.split["train"][1], task.split["test"]
    baseline = float(np.mean(np.abs(test_targets - train_targets.mean())))
    assert result.test_metrics["mean_absolute_error"] < 0.25 * baseline
    assert f"Test mean absolute error: {result.test_metrics['mean_absolute_error']:.4f}" in capsys.readouterr().out
    assert (tmp_path / "runs" / "sine" / "ckpt-600.index").exists()


def test_two_optimizers_each_train_their_network_and_are_checkpointed(tmp_path):
    result, _ = train(tmp_path / "gan", GAN_TASK, train_steps=200, learning_rate=1e-2, lr_schedule="constant")
    saved = checkpoint_numbers(tmp_path / "gan" / "ckpt-200")
    for name in ("optimizer_discriminator", "optimizer_generator"):
        assert saved[f"{name}/_iterations/.ATTRIBUTES/VARIABLE_VALUE"] == 200
    # The generator's samples move toward the real data's mean, 2.0, from where the run's seed put
    # them (a GAN oscillates about it, so "closer by half a unit" rather than "there").
    keras.utils.set_random_seed(QUICK["seed"])
    task = TinyGan(None)
    initial = float(tf.reduce_mean(task.build_model()(task.noise[:256])))
    assert abs(result.test_metrics["sample_mean"] - 2.0) < abs(initial - 2.0) - 0.5, (initial, result.test_metrics)


def test_two_optimizer_task_stopped_and_resumed_ends_bit_identical(tmp_path):
    settings = dict(lr_schedule="constant", deterministic=True, checkpoint_every=10)
    train(tmp_path / "straight", GAN_TASK, train_steps=40, **settings)
    train(tmp_path / "resumed", GAN_TASK, train_steps=20, **settings)
    _, lines = train(tmp_path / "resumed", GAN_TASK, train_steps=40, **settings)
    assert any(line.startswith("Resumed from") and "at step 20" in line for line in lines), lines
    expected = checkpoint_numbers(tmp_path / "straight" / "ckpt-40")
    actual = checkpoint_numbers(tmp_path / "resumed" / "ckpt-40")
    assert sorted(actual) == sorted(expected)
    assert any(key.startswith("optimizer_generator/") for key in expected)
    for key, value in expected.items():
        np.testing.assert_array_equal(actual[key], value, err_msg=key)


class _Regression:
    """The README's task, changed by each bad-task case below."""

    def __init__(self, config):
        from regression import SineRegression  # pylint: disable=import-outside-toplevel

        self.inner = SineRegression(config)

    def build_datasets(self):
        return self.inner.build_datasets()

    def build_model(self):
        return self.inner.build_model()

    def compute_loss(self, model, batch, training):
        return self.inner.compute_loss(model, batch, training)


class _DictBatches(_Regression):
    """Batches as a dict of named features and a target, as tf.data pipelines of real data often are."""

    def build_datasets(self):
        data = self.inner.build_datasets()

        def named(make):
            return lambda batch_size: make(batch_size).map(
                lambda x, y: {"first": x[:, :1], "second": x[:, 1:], "target": y})

        return type(data)(train=named(data.train), validation=named(data.validation), test=named(data.test))

    def compute_loss(self, model, batch, training):
        features = tf.concat([batch["first"], batch["second"]], axis=-1)
        return self.inner.compute_loss(model, (features, batch["target"]), training)


def test_a_batch_may_be_a_dict_even_in_the_xla_compiled_loop(tmp_path):
    install_readme_task(tmp_path)
    from training import TrainConfig, train_and_evaluate  # pylint: disable=import-outside-toplevel

    config = TrainConfig(model_dir=str(tmp_path / "run"), jit_compile="loop", precision="float32", train_steps=40,
                         warmup_steps=2, steps_per_loop=20, eval_every=0, export=False)
    lines = []
    result = train_and_evaluate(config, task=_DictBatches(config), log=lines.append)
    assert any("the whole loop is compiled" in line for line in lines), lines
    assert result.final_step == 40 and np.isfinite(result.test_metrics["loss"])


class _UnevenBatch(_Regression):
    def build_datasets(self):
        data = self.inner.build_datasets()
        uneven = lambda batch_size: data.validation(batch_size).map(lambda x, y: (x, y[:1]))  # noqa: E731
        return type(data)(train=data.train, validation=uneven, test=data.test)


class _ModelDoesNotFit(_Regression):
    def build_model(self):  # Built for three features; the data have two.
        model = tf.keras.Sequential([tf.keras.layers.Dense(4), tf.keras.layers.Dense(1)])
        model.build((None, 3))
        return model


class _NotAModel(_Regression):
    def build_model(self):
        model = self.inner.build_model()
        return lambda features, training: model(features, training=training)


class _NoWeights(_Regression):
    def build_model(self):
        return tf.keras.layers.Activation("relu")


class _LossPerBatch(_Regression):
    def compute_loss(self, model, batch, training):
        per_example, outputs = self.inner.compute_loss(model, batch, training)
        return tf.reduce_mean(per_example), outputs


class _OptimizersWithoutStep(_Regression):
    def build_optimizers(self, model, new_optimizer):
        return {"a": new_optimizer(model.trainable_variables)}


class _NoDatasets:
    def __init__(self, config):
        pass

    def build_model(self):
        return None

    def compute_loss(self, model, batch, training):
        return None


BAD_TASKS = [
    (_UnevenBatch, {}, "a batch must be a nest of tensors sharing a leading batch axis"),
    (_ModelDoesNotFit, {}, "the model and the data do not fit: compute_loss on a validation batch failed"),
    (_NotAModel, {}, "build_model must return a Keras model or layer; it returned function"),
    (_NoWeights, {}, "the model built has no trainable weights"),
    (_LossPerBatch, {}, "compute_loss must return a float loss per example [batch] first; it returned float32 "
                        "of shape ()"),
    (_OptimizersWithoutStep, {}, "build_optimizers goes with a train_step of its own"),
]


@pytest.mark.parametrize("task_class,settings,message", BAD_TASKS, ids=[c.__name__ for c, _, _ in BAD_TASKS])
def test_a_task_the_run_cannot_use_stops_before_the_run_directory_exists(tmp_path, task_class, settings, message):
    install_readme_task(tmp_path)
    from training import TrainConfig, train_and_evaluate  # pylint: disable=import-outside-toplevel

    config = TrainConfig(model_dir=str(tmp_path / "run"), train_steps=20, warmup_steps=2, **settings)
    with pytest.raises(TaskError) as error:
        train_and_evaluate(config, task=task_class(config))
    assert message in str(error.value) and "\n" not in str(error.value)
    assert not (tmp_path / "run").exists()


def test_accumulation_cannot_split_a_tasks_own_step(tmp_path):
    with pytest.raises(TaskError, match="--grad_accum_steps=2: .* has its own train_step"):
        train(tmp_path / "run", GAN_TASK, grad_accum_steps=2)
    assert not (tmp_path / "run").exists()


def test_a_task_lacking_a_method_is_named(tmp_path):
    with pytest.raises(TaskError, match=r"--task='tests.training.test_tasks:_NoDatasets': '_NoDatasets' lacks "
                                        r"build_datasets \(training/task.py"):
        train(tmp_path / "run", "tests.training.test_tasks:_NoDatasets")


class _FailingConstructor(_Regression):
    def __init__(self, config):
        raise FileNotFoundError("vocabulary.txt\nsecond line")


def test_a_task_whose_constructor_raises_is_one_line(tmp_path):
    with pytest.raises(TaskError) as error:
        train(tmp_path / "run", "tests.training.test_tasks:_FailingConstructor")
    assert str(error.value) == ("--task='tests.training.test_tasks:_FailingConstructor': constructing it failed: "
                                "FileNotFoundError: vocabulary.txt")
    assert not (tmp_path / "run").exists()


def test_integer_labels_of_any_rank_are_classes_and_float_labels_are_soft():
    logits = tf.math.log(tf.constant([[[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]]]))  # [1, 2 tokens, 3 classes]
    tokens = tf.constant([[0, 2]])  # Integer labels [B, T]: a class per token, not a soft label.
    np.testing.assert_allclose(classification_loss(tokens, logits), [[-np.log(0.7), -np.log(0.8)]], rtol=1e-5)
    np.testing.assert_array_equal(hard_labels(tokens), tokens)
    soft = tf.constant([[0.25, 0.75, 0.0]])
    np.testing.assert_allclose(classification_loss(soft, logits[0, :1]),
                               [-(0.25 * np.log(0.7) + 0.75 * np.log(0.2))], rtol=1e-5)


def test_readme_task_name_is_importable_from_the_run_directory(tmp_path):
    install_readme_task(tmp_path)
    result, lines = train(tmp_path / "run", README_TASK, train_steps=20)
    assert lines[0].startswith("Device:") and any(line.startswith("Data: 1536/256/256") for line in lines)
    assert np.isfinite(result.test_metrics["mean_absolute_error"])
