"""The workloads the benchmarks time: a registered model, its input and a default batch size.

`--workload` takes a name from WORKLOADS. Models come from the layer registry, so a workload
whose model is not registered in this checkout (e.g. `resnet50` before it lands) is refused
with a message naming it, and the others still run.
"""

import dataclasses

import numpy as np

from layers.registry import LANGUAGE_MODELS, MODELS, resolve_model_class


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
      num_classes: logits per example (image_classification).
      dataset: a `core.data` catalog name whose splits `--data=train_input` reads (e.g. "digits"),
        or "" for in-memory random arrays shaped like `input_shape`; for language_model a text
        corpus name (core/data/text_catalog.py).
      task: the built-in task whose loss the step computes: image_classification (batches
        (inputs, labels)) or language_model (batches uint8 [B, T + 1], input_shape (T,), the
        model from layers.registry.LANGUAGE_MODELS).
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
    task: str = "image_classification"

    @property
    def is_language_model(self) -> bool:
        return self.task == "language_model"

    @property
    def tokens_per_example(self) -> int | None:
        """Positions predicted per example (the sequence length) for a language model, else None."""
        return self.input_shape[0] if self.is_language_model else None


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
        Workload("byte_lm", "lm_small", (256,), 16, "byte-level decoder-only transformer lm_small (4 blocks, "
                 "width 128) on 256-byte sequences of the Python standard library (the language_model task)",
                 input_dtype="int32", vocab_size=256, dataset="python_stdlib", task="language_model"),
        Workload("byte_lm_tiny", "lm_tiny", (64,), 8, "lm_tiny (2 blocks, width 64) on 64-byte sequences: "
                 "the language model for quick checks", input_dtype="int32", vocab_size=256,
                 dataset="python_stdlib", task="language_model"),
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
        resolve_model_class(workload.model, LANGUAGE_MODELS if workload.is_language_model else MODELS)
    except ValueError as error:
        raise ValueError(f"workload {name!r} needs model {workload.model!r}: {error}") from None
    return workload


def with_sequence_length(workload: Workload, sequence_length: int) -> Workload:
    """The language-model workload on sequences of `sequence_length` bytes (0: unchanged).

    Raises:
      ValueError: for a workload that is not a language model.
    """
    if not sequence_length:
        return workload
    if not workload.is_language_model:
        raise ValueError(f"workload {workload.name!r} has no sequence length (only language models do)")
    return dataclasses.replace(workload, input_shape=(sequence_length,))


def create_model(workload: Workload):
    """Builds the workload's model (call inside the precision scope and the strategy scope)."""
    if workload.is_language_model:
        # As training/tasks/language_model.py builds it: bytes, positions for the sequence length.
        return resolve_model_class(workload.model, LANGUAGE_MODELS)(
            vocab_size=workload.vocab_size, max_length=workload.input_shape[0], **workload.model_options)
    return resolve_model_class(workload.model)(num_classes=workload.num_classes, **workload.model_options)


def synthetic_examples(workload: Workload, num_examples: int, seed: int = 0):
    """Random examples shaped like the workload's data, as numpy arrays: what its task's step takes.

    Images are standard normal float32; token ids are uniform in [1, vocab_size), so no
    position is padding. Labels are uniform in [0, num_classes). A language model's examples
    are one array, uniform random bytes uint8 [num_examples, T + 1] (the task's windows).
    """
    rng = np.random.RandomState(seed)
    if workload.is_language_model:
        return rng.randint(0, workload.vocab_size, size=(num_examples, workload.input_shape[0] + 1)).astype(np.uint8)
    shape = (num_examples,) + tuple(workload.input_shape)
    if workload.input_dtype.startswith("int"):
        inputs = rng.randint(1, workload.vocab_size, size=shape).astype(workload.input_dtype)
    else:
        inputs = rng.standard_normal(shape).astype(workload.input_dtype)
    labels = rng.randint(0, workload.num_classes, size=num_examples).astype(np.int32)
    return inputs, labels
