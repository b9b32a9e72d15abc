"""Language modeling: byte sequences [B, T + 1] in, next-byte logits [B, T, 256] out.

A decoder-only transformer (--model=lm_tiny|lm_small|lm_medium|lm_large, or a user's model) reads
T bytes of UTF-8 text and predicts each next byte: vocabulary 256, no tokenizer. The data are the
embedded corpus (`python_stdlib`, core/data/python_stdlib_corpus.py) or a folder of text files
(`text_folder`). Held-out figures: loss (nats per byte), bits per byte, perplexity, next-byte
accuracy. The report adds the order-2 count model's bits per byte on the same text and samples;
the export serves next-byte logits; `python -m training.generate` samples from a run.
"""

import math

import keras
import numpy as np
import tensorflow as tf

from core.data import DatasetError
from core.data.byte_windows import evaluation_windows, num_windows, training_windows
from core.data.text_catalog import load_text_corpus
from layers.registry import LANGUAGE_MODELS, resolve_model_class
from training.task import TaskDatasets, TaskError, first_line

VOCAB_SIZE = 256  # Bytes.


class LanguageModel:
    """The built-in task `language_model` (training/task.py has the contract).

    Args:
      config: the run's TrainConfig: --dataset (python_stdlib or text_folder), --data_dir,
        --sequence_length, --model, --remat, --skip_undecodable_files.
      log: where the data's lines go (skipped files).
    """

    def __init__(self, config, log=print):
        self.config = config
        self.log = log
        self.corpus = None

    def build_datasets(self) -> TaskDatasets:
        config, length = self.config, self.config.sequence_length
        corpus = self.corpus = self.corpus or load_text_corpus(  # A corpus given in advance is used.
            config.dataset, config.data_dir, config.skip_undecodable_files, self.log)
        for split in ("train", "validation", "test"):
            windows = num_windows(corpus.num_bytes[split], length)
            needed = config.batch_size if split == "train" else 1
            if windows < needed:
                raise DatasetError(
                    f"--dataset={config.dataset}: the {split} split has {corpus.num_bytes[split]} bytes, "
                    f"{windows} sequences of --sequence_length={length}; "
                    + (f"one batch (--batch_size={config.batch_size}) needs {needed}" if split == "train"
                       else "it needs at least one") + "; use more text or a shorter --sequence_length")
        counts = "/".join(f"{corpus.num_bytes[split]:,}" for split in ("train", "validation", "test"))
        description = (f"Data: {corpus.description}; {counts} train/validation/test bytes in "
                       f"{'/'.join(str(corpus.files[split]) for split in ('train', 'validation', 'test'))} files; "
                       f"sequences of {length} bytes")
        return TaskDatasets(
            train=lambda batch_size: training_windows(corpus.train, length, batch_size, config.seed,
                                                      config.steps_per_loop),
            validation=lambda batch_size: evaluation_windows(corpus.validation, length, batch_size),
            test=lambda batch_size: evaluation_windows(corpus.test, length, batch_size),
            description=description)

    def build_model(self):
        """--model constructed for bytes and --sequence_length, its weights created."""
        config = self.config
        try:
            model_class = resolve_model_class(config.model, LANGUAGE_MODELS)
        except ValueError as error:
            raise TaskError(f"--model={config.model!r}: {error}") from None
        options = {"remat": True} if config.remat else {}
        try:
            model = model_class(vocab_size=VOCAB_SIZE, max_length=config.sequence_length, **options)
            model(np.zeros((1, config.sequence_length), np.int32))
        except Exception as error:  # noqa: BLE001  A user's model may raise anything.
            raise TaskError(f"--model={config.model!r}: building it for --sequence_length="
                            f"{config.sequence_length} failed: {type(error).__name__}: {first_line(error)}") from None
        return model

    def compute_loss(self, model, batch, training):
        """Per-sequence mean cross-entropy (nats per byte) of predicting bytes 1..T from 0..T-1."""
        ids = tf.cast(batch, tf.int32)
        inputs, targets = ids[:, :-1], ids[:, 1:]
        logits = tf.cast(model(inputs, training=training), tf.float32)  # Softmax in float32.
        token_loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=targets, logits=logits)
        return tf.reduce_mean(token_loss, axis=1), {"logits": logits, "token_loss": token_loss}

    def build_metrics(self):
        return {"bits_per_byte": BitsPerByte(), "perplexity": Perplexity(),
                "accuracy": keras.metrics.SparseCategoricalAccuracy(name="accuracy")}

    def update_metrics(self, metrics, batch, outputs):
        metrics["bits_per_byte"].update_state(outputs["token_loss"])
        metrics["perplexity"].update_state(outputs["token_loss"])
        metrics["accuracy"].update_state(tf.cast(batch, tf.int32)[:, 1:], outputs["logits"])

    def xla_on_cpu(self):
        """The float32 CPU verdict for --jit_compile=auto (training/jit.py), from a measurement: the
        op rule turns XLA off for attention (the transformer classifier ran 0.88x under XLA), but
        this model's step ran 1.38x faster with it, 35 vs 26 examples/s (9,058 vs 6,556 tokens/s),
        lm_small at 256 bytes, batch 16 (2 cores, no bfloat16, 2026-11-30; the two models' lines are
        in benchmarks/results/jit_lm.jsonl, written by python -m benchmarks.throughput
        --workload=byte_lm --precision=float32 --jit_compile=loop,true,false --steps_per_loop=16
        --steps=16 --repeats=3 --nomfu and the same with --workload=transformer --jit_compile=true,false
        --steps=32). XLA fuses the softmax over [B, H, T, T] and over the [B, T, 256] logits."""
        return True, ("XLA ran this language model's float32 step 1.38x faster on a 2-core CPU "
                      "(training/tasks/language_model.py)")

    def throughput_unit(self):
        """The progress line counts tokens: one byte per position of a sequence."""
        return "tokens", self.config.sequence_length

    def report(self, model, model_dir, log):
        from training.tasks import language_model_report  # pylint: disable=import-outside-toplevel

        return language_model_report.report(self, model, model_dir, log)

    def serving_signatures(self, model):
        from training.tasks.text_serving_signatures import next_byte_signatures  # pylint: disable=import-outside-toplevel

        return next_byte_signatures(model, self.config.sequence_length)

    def serving_hint(self, export_directory):
        return f"python -m training.generate --model_dir={self.config.model_dir} --prompt='def '"


class BitsPerByte(keras.metrics.Mean):
    """Mean cross-entropy per byte in bits: nats / ln 2."""

    def __init__(self, name="bits_per_byte", **kwargs):
        super().__init__(name=name, **kwargs)

    def result(self):
        return super().result() / math.log(2.0)


class Perplexity(keras.metrics.Mean):
    """exp(mean cross-entropy per byte): the number of equally likely bytes it amounts to."""

    def __init__(self, name="perplexity", **kwargs):
        super().__init__(name=name, **kwargs)

    def result(self):
        return tf.exp(super().result())
