"""Image classification: images [B, H, W, C] and integer labels [B] in, logits [B, classes] out.

The task of the origin tutorials (digits, MNIST, CIFAR, an image folder; transfer learning from
VGG16/ResNet-50): cross-entropy, accuracy, the evaluation report with its confusion matrix, an
export that serves images, and fine-tuning as a second phase.
"""

import keras
import tensorflow as tf

from core.data import evaluation_dataset, load_dataset, training_input
from core.data.record_reading import explain_bad_records
from core.data.record_splits import RecordData
from core.data.validation import InvalidSplitsError, validate_splits
from layers.registry import create_model
from training.config import TrainConfig
from training.task import TaskDatasets
from training.tasks import classification_report, image_serving_signatures, transfer_learning

TOP_K = 5  # Top-k accuracy beside top-1 for classification with more than k classes.


class ImageClassification:
    """The built-in task `image_classification` (training/task.py has the contract).

    Args:
      config: the run's TrainConfig (the defaults when None): the data flags (--dataset, --augment, --mixup_alpha, ...),
        --model and the transfer-learning flags.
      datasets: DatasetSplits to use instead of loading `config.dataset`.
      model_fn: num_classes -> model, used instead of `config.model`.
      phase_one: for the fine-tuning phase, (checkpoint of phase one, --unfreeze_from).
      log: where the model's lines go (pretrained weights loaded, parameters trained).
    """

    def __init__(self, config=None, datasets=None, model_fn=None, phase_one=None, log=print):
        self.config = config or TrainConfig()
        self.splits = datasets
        self.model_fn = model_fn
        self.phase_one = phase_one
        self.log = log

    def build_datasets(self) -> TaskDatasets:
        config = self.config
        if config.dataset == "records":  # Streamed from disk, never whole in memory.
            return self._record_datasets()
        splits = self.splits = self.splits or load_dataset(
            config.dataset, config.data_dir, config.normalize, config.image_size)
        validate_splits(splits, config.batch_size)

        def train(batch_size):  # The benchmarks time the same input (core/data/pipeline.py).
            return training_input(splits, batch_size, config.seed, config.augment, config.mixup_alpha,
                                  config.cutmix_alpha, config.steps_per_loop)

        return TaskDatasets(
            train=train,
            validation=lambda batch_size: evaluation_dataset(splits.validation, batch_size),
            test=lambda batch_size: evaluation_dataset(splits.test, batch_size),
            description=_describe_data(splits, config))

    def _record_datasets(self) -> TaskDatasets:
        config = self.config
        records = self.records = RecordData(config.data_dir, config.image_size, config.normalize,
                                            config.skip_bad_records, config.max_bad_records_fraction,
                                            config.shuffle_buffer)
        splits = self.splits = records.splits()
        if splits.num_examples["train"] < config.batch_size:
            raise InvalidSplitsError(f"--batch_size={config.batch_size} is larger than the training split of "
                                     f"{splits.name} ({splits.num_examples['train']} examples)")

        def positioned_train(batch_size, context, steps_done):
            return records.training_batches(batch_size, config.seed, config.augment, config.mixup_alpha,
                                            config.cutmix_alpha, context, steps_done)

        return TaskDatasets(
            train=lambda batch_size: positioned_train(batch_size, None, 0),
            validation=lambda batch_size: records.examples("validation").batch(batch_size).prefetch(tf.data.AUTOTUNE),
            test=lambda batch_size: records.examples("test").batch(batch_size).prefetch(tf.data.AUTOTUNE),
            description=_describe_data(splits, config) + f"; streamed from {records.metadata.directory}",
            positioned_train=positioned_train,
            check_input=records.policy.check if config.skip_bad_records else None)

    def build_model(self):
        """The model of --model (or `model_fn`) with its weights: pretrained, frozen or restored
        from phase one as the transfer-learning flags say (training/tasks/transfer_learning.py)."""
        model_fn = self.model_fn or (lambda num_classes: create_model(self.config.model, num_classes))
        model_flag = "model_fn" if self.model_fn else f"--model={self.config.model!r}"
        return transfer_learning.build_model(model_fn, self.config, self.splits, self.log,
                                             phase_one=self.phase_one, model_flag=model_flag)

    def compute_loss(self, model, batch, training):
        images, labels = batch
        # Logits go to float32 before softmax: float16's max (65504) overflows exp().
        logits = tf.cast(model(images, training=training), tf.float32)
        return classification_loss(labels, logits), logits

    def build_metrics(self):
        """Accuracy, after top-5 accuracy when there are more than 5 classes (with 5 or fewer it is 1):
        the script prints test metrics in this order and accuracy stays its last line."""
        metrics = {}
        if self.splits is not None and len(self.splits.class_names) > TOP_K:
            metrics[f"top{TOP_K}_accuracy"] = keras.metrics.SparseTopKCategoricalAccuracy(
                k=TOP_K, name=f"top{TOP_K}_accuracy")
        metrics["accuracy"] = keras.metrics.SparseCategoricalAccuracy(name="accuracy")
        return metrics

    def update_metrics(self, metrics, batch, logits):
        labels = hard_labels(batch[1])
        for metric in metrics.values():
            metric.update_state(labels, logits)

    def report(self, model, model_dir, log):
        """Accuracy per class and the confusion matrix of the test split, printed and written."""
        records = getattr(self, "records", None)
        with explain_bad_records():
            batches = records.examples("test").batch(self.config.batch_size) if records else None
            labels, predictions = classification_report.predict_split(model, self.splits.test,
                                                                      self.config.batch_size, batches)
        report = classification_report.build_report(labels, predictions, self.splits.class_names)
        log(classification_report.format_report(report))
        report_path, plot_path = classification_report.write_report(report, model_dir)
        log(f"Wrote {report_path} and {plot_path}")
        return report

    def serving_signatures(self, model):
        return image_serving_signatures.image_classifier_signatures(
            model, self.splits.input_shape, self.splits.class_names, self.splits.normalization)

    def serving_hint(self, export_directory):
        return f"python -m training.predict --model_dir={self.config.model_dir} IMAGE..."

    def next_phase(self):
        """Fine-tuning after a frozen-base phase one, when --unfreeze_from asks for it."""
        if not self.config.unfreeze_from or self.phase_one is not None:
            return None
        config, phase_one = transfer_learning.fine_tuning_phase(self.config)
        return config, ImageClassification(config, datasets=self.splits, model_fn=self.model_fn,
                                           phase_one=(phase_one, self.config.unfreeze_from), log=self.log)


def classification_loss(labels, logits):
    """Per-example cross-entropy for integer labels [B] or soft labels [B, classes] (mixup/CutMix).

    Soft labels are floating point; integer labels of any rank are class indices.
    """
    if labels.dtype.is_floating:
        return keras.losses.categorical_crossentropy(labels, logits, from_logits=True)
    return keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)


def hard_labels(labels):
    """Integer labels [B] for accuracy: soft labels [B, classes] count as their largest class."""
    if labels.dtype.is_floating:
        return tf.argmax(labels, axis=-1, output_type=tf.int32)
    return labels


def _describe_data(splits, config):
    """One log line: the dataset's splits, normalization and augmentation."""
    counts = "/".join(str(splits.num_examples[split]) for split in ("train", "validation", "test"))
    line = f"Data: {splits.name}, {counts} train/validation/test examples of {splits.input_shape}"
    if splits.normalization is not None:
        mean = ", ".join(f"{value:.3f}" for value in splits.normalization.mean)
        std = ", ".join(f"{value:.3f}" for value in splits.normalization.std)
        line += f"; normalized by the training split's mean ({mean}) and std ({std})"
    line += f"; augmentation {config.augment}"
    for name, alpha in (("mixup", config.mixup_alpha), ("cutmix", config.cutmix_alpha)):
        if alpha:
            line += f", {name} {alpha}"
    return line
