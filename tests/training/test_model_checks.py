"""A user's --model that cannot train on the data fails before training with one line naming it."""

import keras
import pytest
import tensorflow as tf

from training import TrainConfig, train_and_evaluate
from training.config import ConfigError
from layers.registry import create_model
from training.tasks.classifier_checks import check_model, create_checked_model, import_model_module


class Logits(keras.Model):
    """Flattens images and maps them to `width` outputs, optionally cast or reshaped."""

    def __init__(self, num_classes, width=None, cast=None, spatial=False):
        super().__init__()
        self.dense = keras.layers.Dense(width or num_classes)
        self.cast, self.spatial = cast, spatial

    def call(self, images):
        if self.spatial:  # Per-pixel logits [B, H, W, classes], as a segmentation model gives.
            return self.dense(images)
        logits = self.dense(keras.ops.reshape(images, (keras.ops.shape(images)[0], -1)))
        return keras.ops.cast(logits, self.cast) if self.cast else logits


class Weightless(keras.Model):
    def call(self, images):
        return keras.ops.zeros((keras.ops.shape(images)[0], 10))


FLAG = "--model='my.nets:Net'"
DATA = "--dataset=digits"
EXPECTED = "expected logits of shape [batch, 10] for --dataset=digits's 10 classes"


@pytest.mark.parametrize("make_model,message", [
    (lambda n: Logits(n, width=7), f"{FLAG}: returns shape (1, 7) for one image; {EXPECTED}"),
    (lambda n: Logits(n, spatial=True), f"{FLAG}: returns shape (1, 8, 8, 10) for one image; {EXPECTED}"),
    (lambda n: Logits(n, cast="int32"),
     f"{FLAG}: returns int32 logits; expected floating-point logits of shape [batch, 10] for --dataset=digits's 10 "
     "classes (the loss and its gradients need them)"),
    (lambda n: Weightless(), f"{FLAG}: has no trainable weights; there is nothing to train"),
    (lambda n: {"num_classes": n}, f"{FLAG}: gives a dict, not a Keras model or layer"),
    (lambda n: len, f"{FLAG}: gives a builtin_function_or_method, not a Keras model or layer"),
    (lambda n: keras.layers.Conv2D(n, 9), f"{FLAG}: cannot take {DATA}'s images of shape (8, 8, 1): "),
], ids=["width", "rank", "integer_logits", "no_weights", "not_a_layer", "a_function", "cannot_take_the_images"])
def test_a_model_that_does_not_fit_the_data_is_one_line(make_model, message):
    with pytest.raises(ConfigError) as error:
        check_model(make_model(10), 10, (8, 8, 1), FLAG, DATA)
    assert str(error.value).startswith(message), str(error.value)
    assert "\n" not in str(error.value)


def test_a_bare_layer_and_a_model_that_fit_are_returned_built():
    dense = check_model(keras.layers.Dense(10), 10, (16,), FLAG, DATA)
    assert dense.built and dense.kernel.shape == (16, 10)
    assert len(check_model(Logits(10), 10, (8, 8, 1), FLAG, DATA).trainable_variables) == 2


def test_a_module_that_raises_on_import_or_construction_is_one_line(tmp_path, monkeypatch):
    (tmp_path / "broken_nets.py").write_text("import os\nraise RuntimeError('CUDA_HOME is not set')\n")
    (tmp_path / "strict_nets.py").write_text(
        "import keras\n"
        "class Net(keras.Model):\n"
        "    def __init__(self, num_classes):\n"
        "        super().__init__()\n"
        "        raise ValueError(f'no weights file for {num_classes} classes\\nsecond line')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ConfigError, match=r"^--model='strict_nets:Net': constructing it with num_classes=10 raised "
                                          r"ValueError: no weights file for 10 classes$"):
        create_checked_model(lambda n: create_model("strict_nets:Net", n), 10, (8, 8, 1), "--model='strict_nets:Net'",
                             "--dataset=digits")
    with pytest.raises(ConfigError, match=r"^--model='broken_nets:Net': importing broken_nets raised RuntimeError: "
                                          r"CUDA_HOME is not set$"):
        import_model_module("broken_nets:Net")
    import_model_module("small_cnn")  # A registered name: nothing to import.
    import_model_module("no_such_module_anywhere:Net")  # layers/registry.py names a missing module itself.


def test_the_check_runs_before_training_writes_a_checkpoint(tmp_path):
    config = TrainConfig(model="mlp", dataset="digits", batch_size=32, train_steps=10, warmup_steps=2,
                         steps_per_loop=10, eval_every=0, precision="float32", model_dir=str(tmp_path / "run"))
    with pytest.raises(ConfigError, match=r"^model_fn: returns shape \(1, 3\) for one image; expected logits of "
                                          r"shape \[batch, 10\]"):
        train_and_evaluate(config, model_fn=lambda n: Logits(n, width=3), log=lambda line: None)
    assert not list((tmp_path / "run").glob("ckpt-*"))
    assert not tf.io.gfile.exists(str(tmp_path / "run" / ".tapecraft.lock"))
