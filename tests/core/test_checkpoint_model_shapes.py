"""Every model shape the README allows saves and restores: weights on the model itself, a bare
layer, nested models, layers held in a list, weights created lazily at the first call; and a
run with such a model resumes bit-identically through train_and_evaluate."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from core.checkpointing import CheckpointError, TrainingCheckpoint
from training import TrainConfig, train_and_evaluate


class Tempered(keras.Model):
    """A model that owns a weight itself (a learned temperature) beside a layer's."""

    def __init__(self, num_classes=3):
        super().__init__()
        self.dense = keras.layers.Dense(num_classes)
        self.temperature = self.add_weight(shape=(), initializer="ones", name="temperature")

    def call(self, images):
        return self.dense(keras.ops.reshape(images, (keras.ops.shape(images)[0], -1))) * self.temperature


class Nested(keras.Model):
    """A model holding a model that holds a weight of its own and a layer."""

    def __init__(self, num_classes=3):
        super().__init__()
        self.inner = Tempered(8)
        self.head = keras.layers.Dense(num_classes)
        self.bias = self.add_weight(shape=(num_classes,), initializer="zeros", name="bias")

    def call(self, images):
        return self.head(self.inner(images)) + self.bias


class Listed(keras.Model):
    """Layers held in a Python list, which tf.train tracking does not reach through Keras."""

    def __init__(self, num_classes=3):
        super().__init__()
        self.blocks = [keras.layers.Dense(8, activation="relu") for _ in range(2)]
        self.head = keras.layers.Dense(num_classes)

    def call(self, images):
        x = keras.ops.reshape(images, (keras.ops.shape(images)[0], -1))
        for block in self.blocks:
            x = block(x)
        return self.head(x)


class Lazy(keras.Model):
    """Weights created in build(), from the first input's shape, one of them on the model."""

    def __init__(self, num_classes=10):
        super().__init__()
        self.num_classes = num_classes

    def build(self, input_shape):
        features = int(np.prod(input_shape[1:]))
        self.kernel = self.add_weight(shape=(features, self.num_classes), initializer="glorot_uniform",
                                      name="kernel")
        self.scale = self.add_weight(shape=(), initializer="ones", name="scale")

    def call(self, images):
        flat = keras.ops.reshape(images, (keras.ops.shape(images)[0], -1))
        return keras.ops.matmul(flat, self.kernel) * self.scale


SHAPES = {"weights_on_the_model": Tempered, "bare_layer": lambda: keras.layers.Dense(3),
          "nested_models": Nested, "list_held_layers": Listed, "lazily_built": lambda: Lazy(3)}


def _checkpoint(directory, make_model):
    model = make_model()
    model(tf.zeros((2, 4, 4, 1)) if not isinstance(model, keras.layers.Dense) else tf.zeros((2, 16)))
    optimizer = keras.optimizers.Adam(1e-3)
    optimizer.build(model.trainable_variables)
    step = tf.Variable(0, dtype=tf.int64)
    return model, step, TrainingCheckpoint(str(directory), 3, model=model, optimizer=optimizer,
                                           global_step=step, model_variables=list(model.variables))


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_every_model_shape_restores_its_weights(tmp_path, shape):
    model, step, checkpoint = _checkpoint(tmp_path, SHAPES[shape])
    for index, variable in enumerate(model.variables):
        variable.assign(tf.fill(variable.shape, float(index + 2)))
    step.assign(7)
    checkpoint.save(7)
    fresh, fresh_step, restoring = _checkpoint(tmp_path, SHAPES[shape])
    assert restoring.restore_latest(lambda line: None).endswith("ckpt-7")
    assert int(fresh_step) == 7
    assert len(fresh.variables) == len(model.variables)
    for index, variable in enumerate(fresh.variables):
        np.testing.assert_array_equal(variable.numpy(), np.full(variable.shape, index + 2.0), err_msg=variable.path)


def test_a_model_with_one_weight_more_is_still_refused(tmp_path):
    _, step, checkpoint = _checkpoint(tmp_path, Listed)
    checkpoint.save(1)
    _, _, other = _checkpoint(tmp_path, Tempered)
    with pytest.raises(CheckpointError, match=r"it holds 6 model_variables, this run has 3"):
        other.restore_latest(lambda line: None)


class _Interrupted(Exception):
    pass


def test_a_model_owning_a_lazily_built_weight_resumes_bit_identically(tmp_path):
    def config(name):
        return TrainConfig(model="small_cnn", dataset="digits", train_steps=30, warmup_steps=5, steps_per_loop=10,
                           eval_every=0, checkpoint_every=10, batch_size=32, precision="float32",
                           deterministic=True, export=False, model_dir=str(tmp_path / name))

    straight = train_and_evaluate(config("a"), model_fn=Lazy, log=lambda line: None)

    def crash_after_first_checkpoint(line):
        if line.startswith("Saved checkpoint") and line.endswith("ckpt-10"):
            raise _Interrupted()

    with pytest.raises(_Interrupted):
        train_and_evaluate(config("b"), model_fn=Lazy, log=crash_after_first_checkpoint)
    lines = []
    resumed = train_and_evaluate(config("b"), model_fn=Lazy, log=lines.append)
    assert any(line.startswith("Resumed from") and "at step 10" in line for line in lines)
    for a, b in zip(straight.model.variables, resumed.model.variables, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)
