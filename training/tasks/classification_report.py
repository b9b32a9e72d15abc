"""The final evaluation report: test accuracy, accuracy per class, and the confusion matrix.

Printed, and written to the run directory as evaluation_report.json and confusion_matrix.png.
"""

import json
import os

import numpy as np
import tensorflow as tf

from core.data import evaluation_dataset
from core.atomic_files import write_atomically

REPORT_FILE = "evaluation_report.json"
PLOT_FILE = "confusion_matrix.png"
# Beyond this many classes the printed report leaves the matrix to the files (CIFAR-100's is 100x100).
MAX_PRINTED_CLASSES = 20


def predict_split(model, split, batch_size, batches=None):
    """(labels, predicted classes), int64 arrays [N], of `model` in inference mode over `split`.

    `batches`, when given, are read instead of `split` (a split streamed from disk, which
    `evaluation_dataset` would cache in memory)."""
    predict = tf.function(lambda images: tf.argmax(model(images, training=False), axis=-1))
    labels, predictions = [], []
    for images, batch_labels in batches if batches is not None else evaluation_dataset(split, batch_size):
        labels.append(batch_labels.numpy())
        predictions.append(predict(images).numpy())
    return np.concatenate(labels).astype(np.int64), np.concatenate(predictions).astype(np.int64)


def build_report(labels, predictions, class_names) -> dict:
    """The report as JSON-ready values.

    Returns:
      {"test_accuracy", "num_examples", "class_names", "per_class": [{"class", "examples",
      "accuracy"}], "confusion_matrix": rows = true class, columns = predicted class}. A class
      without test examples has accuracy None.
    """
    num_classes = len(class_names)
    matrix = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(matrix, (labels, predictions), 1)
    examples = matrix.sum(axis=1)
    per_class = [{"class": str(name), "examples": int(count),
                  "accuracy": float(matrix[index, index] / count) if count else None}
                 for index, (name, count) in enumerate(zip(class_names, examples))]
    return {"test_accuracy": float(np.trace(matrix) / max(len(labels), 1)), "num_examples": int(len(labels)),
            "class_names": [str(name) for name in class_names], "per_class": per_class,
            "confusion_matrix": matrix.tolist()}


def format_report(report) -> str:
    """The report as text lines for the terminal."""
    correct = sum(row[index] for index, row in enumerate(report["confusion_matrix"]))
    lines = [f"Evaluation on the test split: accuracy {report['test_accuracy']:.4f} "
             f"({correct}/{report['num_examples']})"]
    width = max(5, *(len(name) for name in report["class_names"]))
    lines.append(f"  {'class':<{width}}  examples  accuracy")
    for row in report["per_class"]:
        accuracy = "n/a" if row["accuracy"] is None else f"{row['accuracy']:.4f}"
        lines.append(f"  {row['class']:<{width}}  {row['examples']:>8}  {accuracy:>8}")
    if len(report["class_names"]) > MAX_PRINTED_CLASSES:
        lines.append(f"Confusion matrix: {len(report['class_names'])} classes, see {REPORT_FILE} and "
                     f"{PLOT_FILE}")
        return "\n".join(lines)
    matrix = report["confusion_matrix"]
    cell = max(len(str(value)) for row in matrix for value in row) + 1
    cell = max(cell, *(len(name) + 1 for name in report["class_names"]))
    lines.append("Confusion matrix (rows: true class, columns: predicted class):")
    lines.append(" " * (width + 2) + "".join(f"{name:>{cell}}" for name in report["class_names"]))
    for name, row in zip(report["class_names"], matrix):
        lines.append(f"  {name:<{width}}" + "".join(f"{value:>{cell}}" for value in row))
    return "\n".join(lines)


def write_report(report, directory) -> tuple:
    """Writes evaluation_report.json and confusion_matrix.png into `directory`; returns their paths.

    Each file is written under a temporary name and renamed into place, so a full disk or a stop
    leaves the previous file or none, never half of one.

    Raises:
      StorageError: naming the file when the disk refuses it (full, read-only).
    """
    os.makedirs(directory, exist_ok=True)
    report_path = os.path.join(directory, REPORT_FILE)
    write_atomically(report_path, lambda path: _dump_json(report, path))
    plot_path = os.path.join(directory, PLOT_FILE)
    write_atomically(plot_path, lambda path: plot_confusion_matrix(
        np.asarray(report["confusion_matrix"]), report["class_names"], path))
    return report_path, plot_path


def _dump_json(report, path):
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=1)


def plot_confusion_matrix(matrix, class_names, path):
    """Draws the matrix as a heat map, with counts in the cells when there are few classes."""
    import matplotlib  # pylint: disable=import-outside-toplevel  # Only reports need it; it imports slowly.

    matplotlib.use("Agg")  # Files only: no display on a training machine.
    from matplotlib import pyplot  # pylint: disable=import-outside-toplevel

    num_classes = len(class_names)
    side = min(4 + 0.4 * num_classes, 40)
    figure, axes = pyplot.subplots(figsize=(side, side))
    image = axes.imshow(matrix, cmap="Blues")
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04)
    axes.set_xlabel("predicted class")
    axes.set_ylabel("true class")
    axes.set_title(f"Confusion matrix, accuracy {np.trace(matrix) / max(matrix.sum(), 1):.4f}")
    axes.set_xticks(range(num_classes), labels=class_names, rotation=90)
    axes.set_yticks(range(num_classes), labels=class_names)
    if num_classes <= MAX_PRINTED_CLASSES:
        threshold = matrix.max() / 2 if matrix.size else 0
        for row in range(num_classes):
            for column in range(num_classes):
                axes.text(column, row, str(matrix[row, column]), ha="center", va="center",
                          color="white" if matrix[row, column] > threshold else "black")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)
