"""A whole `train_and_evaluate` run, timed between its progress lines: the speed a user gets.

The step benchmarks time a compiled loop on a prepared iterator. A user's run also builds its
input with `core.data.training_input`, crosses a host boundary every `steps_per_loop` steps (the
step counter and metrics read back, the progress line, TensorBoard scalars) and shares the CPU
with the input threads. This runner calls the public `train_and_evaluate` with a `log` that
notes when each progress line arrives; a line is printed after the loop's values were read
back, so the clock stops after the device finished.
"""

import re
import statistics
import shutil
import tempfile
import time

from benchmarks.thread_time import milliseconds_per_step, thread_cpu_seconds
from training import TrainConfig, train_and_evaluate

_PROGRESS_LINE = re.compile(r"^step (\d+)/\d+ \|")


class TrainAndEvaluateRunner:
    """`train_and_evaluate` on in-memory splits; one whole run per `run(calls)`.

    `run(calls)` trains calls + 1 loops of `steps_per_loop` steps in a fresh run directory and
    returns the time from the end of the first loop (tracing, compilation) to the end of the
    last, like `KerasFitRunner` does for `fit`. Evaluation and the checkpoint come after the
    last line, so they are not timed.

    Args:
      splits: the DatasetSplits to train on (`benchmarks.inputs.workload_splits`).
      model_fn: num_classes -> model, as `train_and_evaluate` takes it (a user's own model).
      batch_size: global batch size.
      precision: a `--precision` value.
      jit_compile: a `--jit_compile` value (auto resolves as in any run).
      steps_per_loop: steps per loop.
      log: optional function receiving the run's lines.
      task_settings: more TrainConfig fields, e.g. task="language_model", model=..., sequence_length=...
      task_fn: TrainConfig -> task object, trained instead of `config.task` (splits and model_fn are
        then unused); e.g. the language model on a corpus read once.
    """

    needs_warmup = False  # Every run compiles afresh and its first loop is not timed.
    clears_caches = True  # Each run seeds TensorFlow, which empties its kernel caches (timing.py).

    def __init__(self, splits, model_fn, batch_size, precision, jit_compile, steps_per_loop, log=None,
                 task_settings=None, task_fn=None):
        self.steps_per_call = steps_per_loop
        self._splits, self._model_fn, self._log, self._task_fn = splits, model_fn, log, task_fn
        self._settings = dict(batch_size=batch_size, precision=precision, jit_compile=jit_compile,
                              steps_per_loop=steps_per_loop, eval_every=0, checkpoint_every=0, warmup_steps=0,
                              export=False, **(task_settings or {}))
        self.lines = []  # The progress lines of the last run.
        self.result = None  # The TrainResult of the last run.
        self.cpu_ms_per_step = []  # Per timed run: {thread group: CPU ms per step} (thread_time.py).

    def run(self, calls):
        model_dir = tempfile.mkdtemp(prefix="tapecraft-benchmark-run-")
        ends, cpu, self.lines = [], [], []

        def note(line):
            if _PROGRESS_LINE.match(line):
                ends.append(time.perf_counter())
                cpu.append(thread_cpu_seconds())
                self.lines.append(line)
            if self._log:
                self._log(line)

        config = TrainConfig(model_dir=model_dir, train_steps=(calls + 1) * self.steps_per_call, **self._settings)
        try:
            if self._task_fn is not None:
                self.result = train_and_evaluate(config, log=note, task=self._task_fn(config))
            else:
                self.result = train_and_evaluate(config, datasets=self._splits, model_fn=self._model_fn, log=note)
        finally:
            shutil.rmtree(model_dir, ignore_errors=True)
        if len(ends) != calls + 1:
            raise RuntimeError(f"expected {calls + 1} progress lines, got {len(ends)}: {self.lines}")
        steps = calls * self.steps_per_call
        self.cpu_ms_per_step.append(milliseconds_per_step(cpu[0], cpu[-1], steps))
        return ends[-1] - ends[0], steps

    def median_cpu_ms_per_step(self) -> dict | None:
        """{thread group: median CPU ms per step} over the runs so far (each after its first loop)."""
        runs = [split for split in self.cpu_ms_per_step if split]
        if not runs:
            return None
        return {group: statistics.median(split[group] for split in runs) for group in runs[0]}


def real_path_ratios(records) -> dict:
    """{label: median examples/s of a train_and_evaluate run / the step alone's} for every run
    with a step-alone record (timed=step, data=synthetic) of the same configuration; each run's
    record gets the step's figure as `step_alone_examples_per_second`."""
    same = ("workload", "batch_size", "precision", "jit_compile", "steps_per_loop", "num_replicas", "sequence_length")
    steps = {tuple(r.get(key) for key in same): r["examples_per_second"]["median"] for r in records
             if r.get("timed") == "step" and r["data"] == "synthetic"}
    ratios = {}
    for record in records:
        step = steps.get(tuple(record.get(key) for key in same))
        if record.get("timed") == "train_and_evaluate" and step:
            record["step_alone_examples_per_second"] = step
            ratios[record["label"]] = record["examples_per_second"]["median"] / step
    return ratios
