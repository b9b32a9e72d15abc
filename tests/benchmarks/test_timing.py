"""The measuring harness: compile and warm-up stay out of the timed steps; repeats interleave."""

import pytest

from benchmarks.timing import Timing, measure_interleaved, time_calls


class FakeClock:
    """Time moves only when a fake runner works, so every measured second is attributable."""

    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class FakeRunner:
    """Each call takes `first_call_seconds` the first time (compiling), `seconds_per_call` after."""

    def __init__(self, name, clock, journal, steps_per_call=4, seconds_per_call=1.0, first_call_seconds=50.0):
        self.name = name
        self.clock = clock
        self.journal = journal
        self.steps_per_call = steps_per_call
        self.seconds_per_call = seconds_per_call
        self.first_call_seconds = first_call_seconds
        self.calls = 0

    def run(self, calls):
        self.journal.append((self.name, calls))

        def call():
            self.clock.now += self.first_call_seconds if self.calls == 0 else self.seconds_per_call
            self.calls += 1

        return time_calls(call, lambda: None, calls, clock=self.clock), calls * self.steps_per_call


def test_compile_and_warmup_are_not_timed():
    clock, journal = FakeClock(), []
    runner = FakeRunner("a", clock, journal, steps_per_call=4, seconds_per_call=0.5, first_call_seconds=50.0)
    timings = measure_interleaved({"a": runner}, repeats=3, steps_per_repeat=8, warmup_calls=2, clock=clock)
    timing = timings["a"]
    # 1 compiling call + 2 warm-up calls + 3 repeats x 2 calls (8 steps / 4 per call).
    assert runner.calls == 1 + 2 + 3 * 2
    assert timing.compile_seconds == pytest.approx(50.0)
    assert timing.repeat_steps == [8, 8, 8]
    assert timing.repeat_seconds == pytest.approx([1.0, 1.0, 1.0])  # 2 calls x 0.5 s, nothing else.
    assert timing.steps_per_second() == pytest.approx([8.0, 8.0, 8.0])


def test_runners_take_turns_after_all_compiled():
    clock, journal = FakeClock(), []
    runners = {name: FakeRunner(name, clock, journal) for name in ("a", "b")}
    measure_interleaved(runners, repeats=2, steps_per_repeat=4, warmup_calls=1, clock=clock)
    assert journal == [("a", 1), ("a", 1), ("b", 1), ("b", 1), ("a", 1), ("b", 1), ("a", 1), ("b", 1)]


def test_after_a_runner_that_clears_caches_the_others_get_an_untimed_call():
    """A whole run (clears_caches) makes the next call of every compiled loop instantiate its
    functions again; that call is not timed, so only steps a training loop would run are."""
    clock, journal = FakeClock(), []
    run = FakeRunner("run", clock, journal, first_call_seconds=1.0)
    run.needs_warmup, run.clears_caches = False, True
    step = FakeRunner("step", clock, journal, seconds_per_call=1.0)
    timings = measure_interleaved({"step": step, "run": run}, repeats=2, steps_per_repeat=4, warmup_calls=1,
                                  clock=clock)
    assert journal == [("step", 1), ("step", 1), ("run", 1),
                       ("step", 1), ("step", 1), ("run", 1),  # Untimed call, then the timed one.
                       ("step", 1), ("step", 1), ("run", 1)]
    assert timings["step"].repeat_seconds == pytest.approx([1.0, 1.0])


def test_steps_per_repeat_round_up_to_whole_calls_and_fixed_calls_are_honoured():
    clock, journal = FakeClock(), []
    looped = FakeRunner("looped", clock, journal, steps_per_call=5)
    fixed = FakeRunner("fixed", clock, journal, steps_per_call=1)
    fixed.calls_per_repeat = 3
    timings = measure_interleaved({"looped": looped, "fixed": fixed}, repeats=1, steps_per_repeat=12,
                                  warmup_calls=0, clock=clock)
    assert timings["looped"].repeat_steps == [15]  # ceil(12 / 5) = 3 calls of 5 steps.
    assert timings["fixed"].repeat_steps == [3]


def test_summary_reports_median_min_max():
    timing = Timing(compile_seconds=2.0, repeat_seconds=[1.0, 2.0, 4.0], repeat_steps=[10, 10, 10])
    summary = timing.summary(examples_per_step=32)
    assert summary["examples_per_second"] == pytest.approx({"median": 160.0, "min": 80.0, "max": 320.0})
    assert summary["ms_per_step"] == pytest.approx({"median": 200.0, "min": 100.0, "max": 400.0})
    assert summary["compile_seconds"] == 2.0
    assert summary["repeats"] == 3 and summary["steps_per_repeat"] == 10


def test_bad_budgets_are_refused():
    with pytest.raises(ValueError, match="repeats"):
        measure_interleaved({}, repeats=0, steps_per_repeat=1)
