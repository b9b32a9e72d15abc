"""Timing that a shared machine cannot fool easily: warm-up apart, variants interleaved, medians.

A runner is any object with
  - `steps_per_call`: training steps one host call runs;
  - `run(calls) -> (seconds, steps)`: runs `calls` host calls and returns the wall time it
    measured, stopped only after the device finished (a value read back), and the steps that
    time covers;
  - optionally `calls_per_repeat`: a fixed number of calls per repeat (the peak matmul uses
    it), instead of as many as `steps_per_repeat` needs;
  - optionally `needs_warmup = False`: each call starts afresh (a whole training run), so
    warm-up calls would only cost time;
  - optionally `clears_caches = True`: a call empties TensorFlow's kernel caches (a whole run
    seeds TensorFlow, and `tf.random.set_seed` clears them), so every other runner's compiled
    function is instantiated and graph-optimized again on its next call (~2 s for the language
    model on 2 cores). A training loop never pays that between two steps, so each other
    runner gets one untimed call before its next timed repeat.
The first call of each runner traces and compiles; it is timed on its own and reported as
compile time. Warm-up calls follow, untimed. Then the runners take turns, A B C A B C ..., so a
burst of load from another process hits every variant alike instead of one of them.
"""

import dataclasses
import math
import statistics
import time


@dataclasses.dataclass
class Timing:
    """What one runner measured.

    Attributes:
      compile_seconds: wall time of the first call (tracing, compilation and one execution).
      repeat_seconds: wall time of each timed repeat.
      repeat_steps: training steps each timed repeat covered.
    """

    compile_seconds: float
    repeat_seconds: list = dataclasses.field(default_factory=list)
    repeat_steps: list = dataclasses.field(default_factory=list)

    def steps_per_second(self) -> list:
        return [steps / seconds for steps, seconds in zip(self.repeat_steps, self.repeat_seconds)]

    def summary(self, examples_per_step: int) -> dict:
        """Median, min and max of examples/s and ms/step over the repeats.

        The min of ms/step comes from the fastest repeat, i.e. the max of examples/s.
        """
        rates = self.steps_per_second()
        milliseconds = [1000.0 / rate for rate in rates]
        return {
            "examples_per_second": _spread([rate * examples_per_step for rate in rates]),
            "ms_per_step": _spread(milliseconds),
            "steps_per_second_median": statistics.median(rates),
            "compile_seconds": self.compile_seconds,
            "repeats": len(rates),
            "steps_per_repeat": self.repeat_steps[0] if self.repeat_steps else 0,
        }


def _spread(values) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def time_calls(call, sync, calls, clock=time.perf_counter):
    """Wall time of `calls` calls of `call()`, stopped after `sync()` has read a value back."""
    start = clock()
    for _ in range(calls):
        call()
    sync()
    return clock() - start


def measure_interleaved(runners: dict, repeats: int, steps_per_repeat: int, warmup_calls: int = 1,
                        clock=time.perf_counter, log=None) -> dict:
    """Times every runner, interleaved, and returns {name: Timing}.

    Args:
      runners: {name: runner}; see the module docstring for the runner interface.
      repeats: timed repeats per runner.
      steps_per_repeat: training steps per timed repeat, rounded up to whole host calls.
      warmup_calls: untimed calls after the first (compiling) one.
      clock: seconds as a float; tests pass a fake one.
      log: optional function receiving a progress line per runner compiled and per round.
    """
    if repeats < 1 or steps_per_repeat < 1 or warmup_calls < 0:
        raise ValueError("repeats and steps_per_repeat must be >= 1 and warmup_calls >= 0")
    timings = {}
    for name, runner in runners.items():
        start = clock()
        runner.run(1)
        timings[name] = Timing(compile_seconds=clock() - start)
        if warmup_calls and getattr(runner, "needs_warmup", True):
            runner.run(warmup_calls)
        if log:
            log(f"compiled {name} in {timings[name].compile_seconds:.1f} s")
    # Runners whose kernels a cache-clearing runner threw away since their last call.
    stale = set(runners) if any(getattr(runner, "clears_caches", False) for runner in runners.values()) else set()
    for repeat in range(repeats):
        for name, runner in runners.items():
            calls = (getattr(runner, "calls_per_repeat", None)
                     or math.ceil(steps_per_repeat / runner.steps_per_call))
            if name in stale and getattr(runner, "needs_warmup", True):
                runner.run(1)  # Untimed: instantiates the functions again.
            stale.discard(name)
            seconds, steps = runner.run(calls)
            if getattr(runner, "clears_caches", False):
                stale.update(other for other in runners if other != name)
            timings[name].repeat_seconds.append(seconds)
            timings[name].repeat_steps.append(steps)
        if log:
            log(f"round {repeat + 1}/{repeats}: " + ", ".join(
                f"{name} {timings[name].repeat_steps[-1] / timings[name].repeat_seconds[-1]:.2f} steps/s"
                for name in runners))
    return timings
