"""benchmarks/data_service_rate.py on a tiny workload: every runner reads real batches, and the
result lines say which input each measured and how many service workers made it."""

import numpy as np
import tensorflow as tf

from benchmarks.data_service_rate import measure_service_rates, service_runners
from benchmarks.environment import describe_environment
from benchmarks.results import validate_result
from benchmarks.workloads import find_workload


def test_every_runner_drains_the_batches_it_is_given():
    def make_dataset():
        return tf.data.Dataset.range(10**6).map(lambda i: (tf.fill([4, 2], tf.cast(i, tf.float32)),
                                                           tf.fill([4], i)))

    with service_runners(make_dataset, "counting", (1, 2), steps_per_call=3) as (runners, facts):
        drained = {label: runner.run(2)[1] for label, runner in runners.items()}
        examples = {label: runner.sync() for label, runner in runners.items()}
    assert list(runners) == ["counting made here", "counting via tf.data service, 1 worker (dynamic)",
                             "counting via tf.data service, 2 workers (dynamic)"]
    assert [facts[label].get("data_service_workers") for label in runners] == [0, 1, 2]
    # Two calls of three batches of four examples each, through every path.
    assert drained == {label: 6 for label in runners}
    assert examples == {label: 24 for label in runners}


def test_result_lines_of_train_input_here_and_through_the_service():
    records = measure_service_rates(find_workload("mlp"), batch_size=8, worker_counts=(1,), steps_per_loop=2,
                                    repeats=1, steps=2, warmup_calls=0, environment=describe_environment(),
                                    precision="float32", log=lambda line: None)
    for record in records:
        validate_result(record)
    assert [(r["label"], r["data"], r["data_service_workers"]) for r in records] == [
        ("train_input made here", "train_input", 0),
        ("train_input via tf.data service, 1 worker (dynamic)", "train_input", 1)]
    assert records[1]["data_service_mode"] == "dynamic"
    assert np.isclose(records[1]["speedup_of_service"], records[1]["examples_per_second"]["median"]
                      / records[0]["examples_per_second"]["median"])
