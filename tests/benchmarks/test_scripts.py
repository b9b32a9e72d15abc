"""The scripts end to end, in a subprocess: the process boundary (flags, exit codes, files) is the point.

Cost: ~6 s per process for the TensorFlow import; the successful run times 2 steps.
"""

import json
import os
import subprocess
import sys

from benchmarks.results import validate_result

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _run(*arguments):
    return subprocess.run([sys.executable, "-m", *arguments], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))


def test_throughput_writes_valid_result_lines_and_a_chart(tmp_path):
    output, chart = tmp_path / "results.jsonl", tmp_path / "chart.png"
    result = _run("benchmarks.throughput", "--workload=mlp", "--batch_size=16", "--precision=float32",
                  "--jit_compile=false", "--steps_per_loop=2", "--steps=2", "--repeats=1", "--nomfu",
                  f"--output={output}", f"--chart={chart}")
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    assert len(lines) == 1
    validate_result(lines[0])
    assert lines[0]["label"] == "mlp b16 float32 xla=off 2/call synthetic"
    assert lines[0]["repeats"] == 1 and lines[0]["steps_per_repeat"] == 2
    assert lines[0]["command"].startswith("python -m benchmarks.throughput --workload=mlp")
    assert chart.read_bytes()[:4] == b"\x89PNG"
    assert "mlp b16 float32 xla=off 2/call synthetic" in result.stdout  # The table.


def test_a_bad_flag_is_one_line():
    result = _run("benchmarks.compare", "--workload=mlp", "--precision=float64")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: --precision=float64: must be one of float32, mixed_float16, mixed_bfloat16, auto"]
