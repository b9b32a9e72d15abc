"""run_report.json: what every run, whatever its task, says about itself when it ends.

The task's report (image classification: evaluation_report.json) says how good the model is; this
one says what the run cost: the final step, the test and last validation metrics, the peak memory
(device allocator on a GPU, the process's peak RSS on a CPU: core/memory.py) and the last loop's
throughput and MFU (training/utilization.py).
"""

import json
import os

from core.memory import format_bytes
from core.run_config_store import write_text_atomically

RUN_REPORT_FILE = "run_report.json"


def run_report(training) -> dict:
    """The report of a finished TrainResult (the last phase's)."""
    validation = training.validation_history[-1][1] if training.validation_history else {}
    return {"final_step": training.final_step, "test": dict(training.test_metrics),
            "validation": dict(validation), **training.run_figures}


def write_run_report(model_dir, report, log) -> str:
    """Writes `report` to <model_dir>/run_report.json and logs its memory line; returns the path.

    Raises:
      StorageError: naming the file when the disk refuses it.
    """
    path = os.path.join(model_dir, RUN_REPORT_FILE)
    write_text_atomically(path, json.dumps(report, indent=2, sort_keys=True) + "\n")
    if "peak_memory_bytes" in report:
        log(f"Peak memory: {format_bytes(report['peak_memory_bytes'])} ({report['peak_memory_source']}); "
            f"wrote {path}")
    return path
