"""What `python -m training.train` runs: training (two phases when fine-tuning), report, export."""

import dataclasses
import os

from core.cluster import remove_temporary_directory, write_directory
from core.data import load_dataset
from core.run_lock import deferred_release
from training.evaluation_report import build_report, format_report, predict_split, write_report
from training.export import EXPORT_DIRECTORY, export_for_serving
from training.ema import averaged_weights
from training.run_strategy import create_run_strategy
from training.train_lib import TrainResult
from training.transfer import train_in_phases


@dataclasses.dataclass
class RunResult:
    """A finished run: the last training phase, the evaluation report, and where the export went."""

    training: TrainResult
    report: dict | None  # None on the non-chief workers of a multi-worker job, which do not report.
    export_directory: str | None


# The run directory's lock, taken by training once the data are checked, stays until the report and the
# export are written: one lock over both fine-tuning phases and everything after them.
@deferred_release()
def run_training(config, datasets=None, log=print) -> RunResult:
    """Trains `config.model` on `config.dataset`, reports on the test split, exports for serving.

    Args:
      config: a TrainConfig.
      datasets: DatasetSplits to use instead of loading `config.dataset`.
      log: where progress lines and the report go.

    Returns:
      RunResult. The report is also written to `config.model_dir` (evaluation_report.json,
      confusion_matrix.png), and with `config.export` the SavedModel to `<model_dir>/export`.

    Raises:
      ConfigError: when the model cannot take the dataset's images.
      PretrainedWeightsError: when `config.pretrained_weights` does not fit the model.
    """
    create_run_strategy(config)  # Before the data: it must precede TensorFlow's initialization.
    datasets = datasets or load_dataset(config.dataset, config.data_dir, config.normalize, config.image_size)
    result = train_in_phases(config, datasets, log)

    # With --ema_decay the test accuracy is the averaged weights'; the report and export use them too.
    # In a multi-worker job only the chief reports; every worker exports, the others into a
    # temporary directory they delete (core/cluster.py).
    report = export_directory = None
    with averaged_weights(result.ema):
        if result.is_chief:
            labels, predictions = predict_split(result.model, datasets.test, config.batch_size)
            report = build_report(labels, predictions, datasets.class_names)
            # Written before the export: a full disk or a stop during the export keeps the report.
            log(format_report(report))
            report_path, plot_path = write_report(report, config.model_dir)
            log(f"Wrote {report_path} and {plot_path}")
        if config.export:
            root = write_directory(config.model_dir, result.strategy)
            # The pipeline's normalization goes into the export: a client sends plain pixels.
            export_directory = export_for_serving(
                result.model, os.path.join(root, EXPORT_DIRECTORY), datasets.input_shape,
                datasets.class_names, normalization=datasets.normalization)
            remove_temporary_directory(root, config.model_dir)  # A non-chief's copy; never the chief's.
    if not result.is_chief:
        return RunResult(training=result, report=None, export_directory=None)
    if export_directory:
        log(f"Exported for serving: {export_directory} (python -m training.predict "
            f"--model_dir={config.model_dir} IMAGE...)")
    return RunResult(training=result, report=report, export_directory=export_directory)
