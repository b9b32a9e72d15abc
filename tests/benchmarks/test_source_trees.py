"""benchmarks.source_trees: each tree's processes become one result line per configuration, the
spread over processes, dated by the comparing run."""

from benchmarks.results import validate_result
from benchmarks.source_trees import _by_label, _combined
from tests.benchmarks.test_results import ENVIRONMENT, _record

RUN = dict(ENVIRONMENT, command="python -m benchmarks.source_trees --trees=a=x,b=y", date="2026-02-02T00:00:00+00:00")


def test_each_configuration_becomes_one_line_with_the_spread_of_the_process_medians():
    # Three processes of one tree, each timing two configurations; their medians are 40, 20 and 80
    # examples/s for "fast" (in turn order), and 4, 2, 8 for "slow".
    processes = [[_record(label="fast", seconds=(s,) * 3), _record(label="slow", seconds=(10 * s,) * 3)]
                 for s in (2.0, 4.0, 1.0)]
    fast, slow = (_combined(RUN, "after", "abc1234", lines) for lines in _by_label(processes))
    for record in (fast, slow):
        validate_result(record)
        assert record["script"] == "source_trees" and record["date"] == RUN["date"]
        assert record["source_tree"] == "after (abc1234)" and record["repeats"] == 3 and record["mfu"] is None
    assert fast["label"] == "after: fast" and slow["label"] == "after: slow"
    assert fast["examples_per_second"] == {"median": 40.0, "min": 20.0, "max": 80.0}
    assert slow["examples_per_second"] == {"median": 4.0, "min": 2.0, "max": 8.0}
    assert fast["ms_per_step"] == {"median": 200.0, "min": 100.0, "max": 400.0}  # Batch of 8 at 40/s.
