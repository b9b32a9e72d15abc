"""benchmarks.op_profile writes its summary as a result line and a chart, like the other scripts.

Cost: one subprocess (~6 s of TensorFlow import) profiling 2 steps of a batch-16 MLP.
"""

import json
import os
import subprocess
import sys

import pytest

from benchmarks.results import validate_result

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_profile_is_a_valid_result_line_with_time_by_kind_of_work(tmp_path):
    output, chart = tmp_path / "profile.jsonl", tmp_path / "profile.png"
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.op_profile", "--workload=mlp", "--batch_size=16", "--precision=float32",
         "--jit_compile=false", "--steps=2", "--top=5", f"--output={output}", f"--chart={chart}"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert result.returncode == 0, result.stderr[-2000:]
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    assert len(lines) == 1
    line = lines[0]
    validate_result(line)
    assert line["script"] == "op_profile" and line["label"] == "mlp b16 float32 xla=off profiled"
    assert line["steps_per_repeat"] == 2 and line["repeats"] == 1 and line["jit_compile"] is False
    # The traced call's wall time: examples/s and ms/step are one measurement seen two ways.
    assert line["examples_per_second"]["median"] == pytest.approx(16 * 1000 / line["ms_per_step"]["median"])
    # Without XLA the MLP's three Dense layers run TensorFlow's MatMul kernels: the trace must see them.
    kinds = line["kernel_ms_per_step"]
    assert kinds["matmul"] > 0 and all(value >= 0 for value in kinds.values())
    assert 0 < len(line["top_ops_ms_per_step"]) <= 5
    assert max(line["top_ops_ms_per_step"].values()) <= sum(kinds.values())
    assert chart.read_bytes()[:4] == b"\x89PNG"
    assert "kind of work" in result.stdout  # The printed table is still there.
