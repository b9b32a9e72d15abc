"""The language-model workloads' side of the benchmarks: the task, its text, and how each variant is fed.

A language model's batch is one tensor, bytes uint8 [B, T + 1] (training/tasks/language_model.py).
- tapecraft's step computes the task's own loss (`language_model_task`).
- `--data=train_input` is the task's own input pipeline: `TaskDatasets.train` of LanguageModel
  over the corpus (shuffled windows, one gather per batch, read ahead per loop).
- `--data=keras_input` is what a Keras user writes for `fit` from the same training text: the
  windows in memory, `from_tensor_slices`, a full shuffle, batch, repeat, prefetch.
- `fit` takes (inputs, targets) pairs: `fit_pairs` splits each window into ids[:, :-1], ids[:, 1:]
  (int32), which fit's SparseCategoricalCrossentropy(from_logits=True) compares with the
  logits [B, T, 256] position by position: the same loss as the task's.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from core.data.byte_windows import byte_windows
from core.data.text_catalog import load_text_corpus
from layers.registry import LANGUAGE_MODELS, resolve_model_class
from training import TrainConfig
from training.task import TaskDatasets
from training.tasks.language_model import VOCAB_SIZE, LanguageModel


def language_model_config(workload, **settings) -> TrainConfig:
    """The TrainConfig of a `--task=language_model` run of `workload`, plus `settings`."""
    return TrainConfig(task="language_model", model=workload.model, dataset=workload.dataset,
                       sequence_length=workload.input_shape[0], **settings)


def language_model_task(workload) -> LanguageModel:
    """The task object whose `compute_loss` tapecraft's step runs for `workload`."""
    return LanguageModel(language_model_config(workload), log=lambda line: None)


def load_corpus(workload):
    """The workload's text as TextSplits (core/data/text_catalog.py); load it once per script."""
    return load_text_corpus(workload.dataset, log=lambda line: None)


def train_input(workload, corpus, batch_size: int, seed: int = 0, steps_per_loop=None) -> tf.data.Dataset:
    """The task's own training batches uint8 [batch_size, T + 1]: what `train_and_evaluate` reads."""
    config = language_model_config(workload, seed=seed, batch_size=batch_size, steps_per_loop=steps_per_loop or 1)
    task = PreloadedLanguageModel(config, corpus)
    return task.build_datasets().train(batch_size)


def keras_user_dataset(workload, corpus, batch_size: int, seed: int = 0) -> tf.data.Dataset:
    """A Keras user's pipeline over the same training windows: uint8 [batch_size, T + 1] batches."""
    windows = byte_windows(corpus.train, workload.input_shape[0])
    dataset = tf.data.Dataset.from_tensor_slices(windows).shuffle(len(windows), seed=seed)
    return dataset.batch(batch_size, drop_remainder=True).repeat().prefetch(tf.data.AUTOTUNE)


def fit_pairs(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """Windows [B, T + 1] -> (inputs int32 [B, T], targets int32 [B, T]) for `model.fit`."""
    def split(windows):
        ids = tf.cast(windows, tf.int32)
        return ids[:, :-1], ids[:, 1:]

    return dataset.map(split, num_parallel_calls=tf.data.AUTOTUNE)


class PreloadedLanguageModel(LanguageModel):
    """The language_model task on a corpus already in memory, its held-out passes one batch long.

    Every timed `train_and_evaluate` run builds its input from this task exactly as a run of
    `--task=language_model` does; only the corpus is read once per script instead of once per run,
    as the image workloads pass their splits in. The final validation and test passes come after
    the last timed progress line; one batch each keeps the benchmark's untimed time short.
    A workload's model_options (none for byte_lm) change the model the run builds as they change
    the step variants' model.
    """

    def __init__(self, config, corpus, log=lambda line: None, model_options=None):
        super().__init__(config, log)
        self.corpus = corpus  # LanguageModel.build_datasets loads a corpus only when it has none.
        self._model_options = model_options or {}

    def build_model(self):
        """The task's model; with a workload's model_options (a smaller model for tests) that model."""
        if not self._model_options:
            return super().build_model()
        length = self.config.sequence_length
        model = resolve_model_class(self.config.model, LANGUAGE_MODELS)(
            vocab_size=VOCAB_SIZE, max_length=length, remat=self.config.remat, **self._model_options)
        model(np.zeros((1, length), np.int32))
        return model

    def build_datasets(self) -> TaskDatasets:
        full = super().build_datasets()
        return dataclasses.replace(full, validation=lambda batch_size: full.validation(batch_size).take(1),
                                   test=lambda batch_size: full.test(batch_size).take(1))


def train_and_evaluate_runner(workload, corpus, batch_size, precision, jit_compile, steps_per_loop, log=None):
    """Whole `--task=language_model` runs of `workload` timed between progress lines (real_run.py)."""
    from benchmarks.real_run import TrainAndEvaluateRunner  # pylint: disable=import-outside-toplevel

    settings = dict(task="language_model", model=workload.model, dataset=workload.dataset,
                    sequence_length=workload.input_shape[0])

    def task_fn(config):
        return PreloadedLanguageModel(config, corpus, model_options=workload.model_options)

    return TrainAndEvaluateRunner(None, None, batch_size, precision, jit_compile, steps_per_loop, log=log,
                                  task_settings=settings, task_fn=task_fn)
