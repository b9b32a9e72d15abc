"""The workloads the benchmarks time: a registered model, its input and a default batch size.

`--workload` takes a name from WORKLOADS. Models come from the layer registry, so a workload
whose model is not registered in this checkout (e.g. `resnet50` before it lands) is refused
with a message naming it, and the others still run.
"""

import dataclasses

import numpy as np

from layers.registry import resolve_model_class


@dataclasses.dataclass(frozen=True)
class Workload:
    """One model on one kind of input.

    Attributes:
      name: the `--workload` value.
      model: a registry name or `package.module:ClassName`.
      model_options: keyword arguments for the model's constructor besides `num_classes`.
      input_shape: one example's shape, e.g. (32, 32, 3) or (128,) for a token sequence.
      input_dtype: "float32" for images; "int32" for token ids.
      vocab_size: token ids are drawn from [1, vocab_size) (0 is padding); unused for images.
      num_classes: logits per example.
      dataset: a `core.data` catalog name whose splits `--data=train_input` reads (e.g. "digits"),
        or "" for in-memory random arrays shaped like `input_shape`.
      batch_size: the default global batch size.
      description: what a reader of the results table sees.
    """

    name: str
    model: str
    input_shape: tuple
    batch_size: int
    description: str
    model_options: dict = dataclasses.field(default_factory=dict)
    input_dtype: str = "float32"
    vocab_size: int = 0
    num_classes: int = 10
    dataset: str = ""


WORKLOADS = {
    workload.name: workload
    for workload in (
        Workload("mlp", "mlp", (28, 28, 1), 256, "MLP 784-512-512-10 on 28x28x1"),
        Workload("cifar_cnn", "small_cnn", (32, 32, 3), 128, "small CNN, widths 32/64/128, on 32x32x3",
                 model_options={"widths": (32, 64, 128)}),
        Workload("digits_cnn", "small_cnn", (8, 8, 1), 64, "small CNN, widths 32/64, on the 8x8x1 digits "
                 "(what `make train` trains)", dataset="digits"),
        Workload("resnet20", "resnet20", (32, 32, 3), 128, "CIFAR ResNet-20 on 32x32x3"),
        Workload("resnet50", "resnet50", (224, 224, 3), 32, "ResNet-50 on 224x224x3, 1000 classes",
                 num_classes=1000),
        Workload("transformer", "transformer_classifier", (128,), 64,
                 "transformer encoder classifier on 128-token sequences, vocabulary 1000",
                 model_options={"vocab_size": 1000, "max_length": 128}, input_dtype="int32", vocab_size=1000),
    )
}


def find_workload(name: str) -> Workload:
    """Returns the workload called `name` after checking that its model is registered.

    Raises:
      ValueError: for an unknown workload or a model this checkout does not have.
    """
    if name not in WORKLOADS:
        raise ValueError(f"unknown workload {name!r}; expected one of {', '.join(WORKLOADS)}")
    workload = WORKLOADS[name]
    try:
        resolve_model_class(workload.model)
    except ValueError as error:
        raise ValueError(f"workload {name!r} needs model {workload.model!r}: {error}") from None
    return workload


def create_model(workload: Workload):
    """Builds the workload's model (call inside the precision scope and the strategy scope)."""
    return resolve_model_class(workload.model)(num_classes=workload.num_classes, **workload.model_options)


def synthetic_examples(workload: Workload, num_examples: int, seed: int = 0):
    """Random inputs and labels shaped like the workload's data, as numpy arrays.

    Images are standard normal float32; token ids are uniform in [1, vocab_size), so no
    position is padding. Labels are uniform in [0, num_classes).
    """
    rng = np.random.RandomState(seed)
    shape = (num_examples,) + tuple(workload.input_shape)
    if workload.input_dtype.startswith("int"):
        inputs = rng.randint(1, workload.vocab_size, size=shape).astype(workload.input_dtype)
    else:
        inputs = rng.standard_normal(shape).astype(workload.input_dtype)
    labels = rng.randint(0, workload.num_classes, size=num_examples).astype(np.int32)
    return inputs, labels
