"""Result lines follow the documented schema, survive a JSON round trip and are charted."""

import json

import pytest

from benchmarks.chart import write_chart
from benchmarks.results import RESULT_SCHEMA, append_results, make_record, read_results, validate_result
from benchmarks.timing import Timing

ENVIRONMENT = {
    "device_kind": "cpu", "device_name": "Test CPU", "device_count": 1, "cpu_model": "Test CPU",
    "cpu_cores": 2, "cpu_bfloat16": False, "tensorflow_version": "2.21.0", "keras_version": "3.15.1",
    "python_version": "3.11.7",
    "command": "python -m benchmarks.throughput --workload=mlp", "date": "2026-01-01T00:00:00+00:00",
    "load_average": 0.5,
}


def _record(label="mlp b8 float32", workload="mlp", seconds=(1.0, 2.0, 4.0), **changes):
    timing = Timing(compile_seconds=3.0, repeat_seconds=list(seconds), repeat_steps=[10] * len(seconds))
    fields = dict(script="throughput", label=label, workload=workload, variant="tapecraft", batch_size=8,
                  precision="float32", jit_compile=True, steps_per_loop=5, data="synthetic", num_replicas=1,
                  step_flops=1000, peak_flops_per_second=1e5, jit_reason="requested")
    fields.update(changes)
    return make_record(ENVIRONMENT, timing, **fields)


def test_record_has_every_schema_field_and_the_median_based_mfu():
    record = _record()
    assert set(RESULT_SCHEMA) <= set(record)
    assert record["examples_per_second"] == pytest.approx({"median": 40.0, "min": 20.0, "max": 80.0})
    # 1000 FLOPs x 5 steps/s (median) / 1e5 FLOP/s.
    assert record["mfu"] == pytest.approx(0.05)


def test_json_lines_round_trip(tmp_path):
    path = str(tmp_path / "results.jsonl")
    append_results(path, [_record(), _record(label="other")])
    append_results(path, [_record(label="third")])
    lines = open(path, encoding="utf-8").read().splitlines()
    assert len(lines) == 3 and all(json.loads(line)["schema_version"] == 1 for line in lines)
    assert [record["label"] for record in read_results(path)] == ["mlp b8 float32", "other", "third"]


@pytest.mark.parametrize("change, message", [
    ({"batch_size": "8"}, "batch_size"),
    ({"jit_compile": 1}, "jit_compile"),
    ({"surprise": 1}, "unknown field surprise"),
    ({"examples_per_second": {"median": 1.0, "min": 2.0, "max": 3.0}}, "min <= median <= max"),
])
def test_invalid_lines_are_refused(change, message):
    record = dict(_record(), **change)
    with pytest.raises(ValueError, match=message):
        validate_result(record)


def test_missing_field_is_named():
    record = _record()
    del record["device_name"]
    with pytest.raises(ValueError, match="missing device_name"):
        validate_result(record)


def test_chart_file_is_a_png(tmp_path):
    path = tmp_path / "charts" / "throughput.png"
    records = [_record(), _record(label="cnn", workload="cifar_cnn", seconds=(3.0, 3.5, 4.0))]
    write_chart(records, str(path), "test")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 5000


def test_chart_refuses_no_records(tmp_path):
    with pytest.raises(ValueError, match="no result lines"):
        write_chart([], str(tmp_path / "empty.png"))
