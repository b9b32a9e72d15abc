"""What `python -m training.train` runs: every phase of training, the task's report, the export.

One run-directory lock is held from the first phase's start until the export is written, so no
other process can take the directory while this one still writes into it.
"""

import dataclasses
import os

from core.cluster import remove_temporary_directory, write_directory
from core.run_lock import deferred_release
from training.environment_checks import check_environment
from training.ema import averaged_weights
from training.export import EXPORT_DIRECTORY, export_saved_model
from training.hooks import hooks_from_config
from training.run_report import run_report, write_run_report
from training.run_strategy import create_run_strategy
from training.tasks import create_task
from training.training_phase import TrainResult, train_phase


@dataclasses.dataclass
class RunResult:
    """A finished run: the last training phase, the task's report, and where the export went."""

    training: TrainResult
    report: dict | None  # None without a task report, and on the non-chief workers of a multi-worker job.
    export_directory: str | None
    run_report: dict | None = None  # run_report.json: final metrics, peak memory, throughput, MFU (chief only).


# The run directory's lock, taken by the first phase once its data are checked, stays until the report
# and the export are written: one lock over every phase and everything after them.
@deferred_release()
def run_training(config, datasets=None, log=print, task=None, hooks=None) -> RunResult:
    """Trains `config.task`, phase after phase; reports on the test split; exports for serving.

    Args:
      config: a TrainConfig.
      datasets: image classification: DatasetSplits to use instead of loading `config.dataset`.
      log: where progress lines and the report go.
      task: a task object to train instead of `config.task`.
      hooks: callables hook(step, metrics, model) at every loop boundary of every phase
        (training/hooks.py), before those `--hooks` and early stopping add.

    Returns:
      RunResult. The task writes its report into `config.model_dir` (image classification:
      evaluation_report.json, confusion_matrix.png); with `config.export` and a task that has
      serving signatures, the SavedModel goes to `<model_dir>/export`.
    """
    check_environment(config, task)
    create_run_strategy(config)  # Before the data: it must precede TensorFlow's initialization.
    task = task or create_task(config, datasets=datasets, log=log)
    hooks = list(hooks or []) + hooks_from_config(config, log)
    result = train_phase(config, task, log, hooks)
    phase = getattr(task, "next_phase", lambda: None)()
    while phase is not None:  # E.g. fine-tuning after a frozen-base phase.
        phase_config, task = phase
        result = train_phase(phase_config, task, log, hooks)
        phase = task.next_phase()

    # With --ema_decay the test figures are the averaged weights'; the report and export use them
    # too. The report comes first: a full disk or a stop during the export must not lose it. In a
    # multi-worker job only the chief reports; every worker exports, the others into a temporary
    # directory they delete (core/cluster.py).
    report = export_directory = None
    with averaged_weights(result.ema):
        if result.is_chief:
            figures = run_report(result)
            write_run_report(config.model_dir, figures, log)
        if result.is_chief and hasattr(task, "report"):
            report = task.report(result.model, config.model_dir, log)
        if config.export and hasattr(task, "serving_signatures"):
            root = write_directory(config.model_dir, result.strategy)
            export_directory = export_saved_model(result.model, os.path.join(root, EXPORT_DIRECTORY),
                                                  task.serving_signatures(result.model))
            remove_temporary_directory(root, config.model_dir)  # A non-chief's copy; never the chief's.
    if not result.is_chief:
        return RunResult(training=result, report=None, export_directory=None)
    if export_directory:
        hint = getattr(task, "serving_hint", None)
        log(f"Exported for serving: {export_directory}" + (f" ({hint(export_directory)})" if hint else ""))
    return RunResult(training=result, report=report, export_directory=export_directory, run_report=figures)
