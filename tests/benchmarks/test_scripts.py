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


def test_compare_times_every_variant_with_mfu_and_names_what_fit_trained(tmp_path):
    output = tmp_path / "compare.jsonl"
    from benchmarks.compare_variants import ALL_VARIANTS  # pylint: disable=import-outside-toplevel

    result = _run("benchmarks.compare", "--workload=mlp", "--batch_size=16", "--precision=float32",
                  "--steps_per_loop=2", "--steps=2", "--repeats=1", "--data=real", f"--output={output}",
                  f"--variants={','.join(ALL_VARIANTS)}", f"--chart={tmp_path / 'compare.png'}")
    assert result.returncode == 0, result.stderr[-2000:]
    lines = {line["variant"]: line for line in map(json.loads, output.read_text().splitlines())}
    assert set(lines) == {"tapecraft", "keras_fit_default", "keras_fit_loop", "keras_fit_xla",
                          "keras_fit_xla_loop", "keras_fit_loop_on_tapecraft_model",
                          "keras_fit_xla_loop_on_tapecraft_model", "eager", "tapecraft_on_user_model",
                          "tapecraft_run", "tapecraft_run_on_user_model", "keras_fit_loop_on_train_input",
                          "keras_fit_xla_loop_on_train_input"}
    # --data=real: tapecraft reads train_and_evaluate's input, fit a Keras user's pipeline.
    assert {name: line["data"] for name, line in lines.items() if line["data"] == "keras_input"} == {
        name: "keras_input" for name in ("keras_fit_default", "keras_fit_loop", "keras_fit_xla",
                                          "keras_fit_xla_loop", "keras_fit_loop_on_tapecraft_model",
                                          "keras_fit_xla_loop_on_tapecraft_model")}
    assert lines["tapecraft_run_on_user_model"]["model"] == "user" and lines["tapecraft_run"]["model"] == "tapecraft"
    assert lines["tapecraft_run"]["jit_compile"] is True  # What the run's --jit_compile=auto chose.
    assert "tapecraft_run_on_user_model float32: " in result.stdout
    for line in lines.values():
        validate_result(line)
        # Every variant does the same arithmetic: one FLOP count, one peak, an MFU each.
        assert line["step_flops"] == lines["tapecraft"]["step_flops"] > 0
        assert line["peak_flops_per_second"] > 0 and line["mfu"] > 0
    assert lines["keras_fit_xla_loop"]["fit_setup"] == "keras"
    assert lines["keras_fit_loop_on_tapecraft_model"]["fit_setup"] == "tapecraft"
    assert "fit_setup" not in lines["tapecraft"] and "fit_setup" not in lines["eager"]
    assert lines["keras_fit_xla_loop"]["jit_compile"] is True and lines["keras_fit_xla_loop"]["steps_per_loop"] == 2
    assert "the best Keras fit with a Keras user's model and Adam in float32" in result.stdout
    assert "the best Keras fit with tapecraft's model and Adam in float32" in result.stdout


def test_the_real_path_guard_prints_its_ratio_and_fails_below_the_bar(tmp_path):
    output = tmp_path / "guard.jsonl"
    result = _run("benchmarks.throughput", "--workload=mlp", "--batch_size=16", "--precision=float32",
                  "--data=synthetic,train_input", "--timed=step,train_and_evaluate", "--steps_per_loop=2",
                  "--steps=2", "--repeats=1", "--nomfu", "--fail_below=1000", f"--output={output}", "--chart=")
    assert result.returncode == 1, result.stderr[-2000:]
    assert "below --fail_below=1000" in result.stderr
    lines = {(line["data"], line["timed"]): line for line in map(json.loads, output.read_text().splitlines())}
    assert set(lines) == {("synthetic", "step"), ("train_input", "step"), ("train_input", "train_and_evaluate")}
    run = lines[("train_input", "train_and_evaluate")]
    assert run["step_alone_examples_per_second"] == lines[("synthetic", "step")]["examples_per_second"]["median"]
    ratio = run["examples_per_second"]["median"] / run["step_alone_examples_per_second"]
    assert f"{run['label']}: {ratio:.2f}x the step alone" in result.stdout
    assert set(run["cpu_ms_per_step"]) == {"main", "tf_Compute", "compute"}
    assert f"{run['label']}: CPU ms per step by thread: main " in result.stdout
