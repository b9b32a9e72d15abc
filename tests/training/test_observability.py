"""Seeing inside a run: the profiler window's edges, MFU, the throughput unit, the flag file, and a
TensorBoard directory that cannot be written. The real TensorBoard server reads a run in
test_tensorboard_server.py.

Cost: two in-process runs of a few steps on the embedded digits (~3 s each).
"""

import math
import types

import keras
import pytest
import tensorflow as tf

from benchmarks.trace_summary import summarize_run_trace
from core import device_peak
from core.memory import PeakMemory
from core.run_config_store import FLAG_FILE, flag_file_text
from core.storage_errors import StorageError
from training import ConfigError, TaskError, TrainConfig, train_and_evaluate
from training import utilization
from training.loop import steps_until_boundary
from training.progress import ProgressReporter
from training.utilization import StepCost, throughput_unit

QUICK = dict(train_steps=8, warmup_steps=1, steps_per_loop=4, eval_every=0, checkpoint_every=0, batch_size=32,
             precision="float32", jit_compile="false", export=False)


@pytest.mark.parametrize("value, reason", [
    ("5,3", "START 5 is after END 3"),
    ("0,3", "outside the run's steps 1..8"),
    ("2,9", "outside the run's steps 1..8"),
    ("2", "must be two steps START,END"),
    ("a,b", "must be two steps START,END"),
    ("1,2,3", "must be two steps START,END"),
])
def test_a_bad_profile_window_is_one_line_naming_the_flag(value, reason):
    with pytest.raises(ConfigError, match=rf"^--profile_steps='{value}': .*{reason}") as error:
        TrainConfig(profile_steps=value, **QUICK)
    assert "\n" not in str(error.value)


def test_the_loop_stops_where_the_profiler_starts_and_stops():
    config = TrainConfig(**dict(QUICK, train_steps=20, steps_per_loop=8, profile_steps="4,6"))
    steps, step = [], 0
    while step < config.train_steps:
        steps.append(steps_until_boundary(step, config))
        step += steps[-1]
    # Steps 4..6 are exactly one loop call: cut after step 3 and after step 6.
    assert steps == [3, 3, 8, 6]


def test_mfu_comes_from_the_step_flops_over_a_known_peak(tmp_path, monkeypatch):
    peak = 1e12  # A faked datasheet figure; two CPU cores reach well under 1 TFLOP/s.
    monkeypatch.setattr(utilization.device_peak, "peak_flops_per_second", lambda name, dtype: peak)

    def linear_model(num_classes):  # 8x8x1 digits -> 64 features -> one matmul.
        return keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(num_classes)])

    lines = []
    result = train_and_evaluate(TrainConfig(model_dir=str(tmp_path / "run"), **QUICK), model_fn=linear_model,
                                log=lines.append)
    figures = result.run_figures
    # Forward x @ W and the weight gradient x^T @ dy: 2 x 32 x 64 x 10 FLOPs each; no input gradient.
    assert figures["flops_per_step"] == 2 * (2 * 32 * 64 * 10)
    assert figures["peak_flops_per_second"] == peak
    assert 0 < figures["mfu"] < 1 and math.isfinite(figures["mfu"])
    steps_per_second = figures["examples_per_second"] / 32
    assert figures["mfu"] == pytest.approx(figures["flops_per_step"] * steps_per_second / peak)
    assert any(" | MFU " in line and "examples/s" in line for line in lines)
    assert not any("MFU unavailable" in line for line in lines)
    assert figures["peak_memory_bytes"] > 0 and figures["peak_memory_source"] == "process peak RSS"


def test_an_unknown_device_says_once_that_mfu_is_unavailable(tmp_path, monkeypatch):
    monkeypatch.setattr(utilization.device_peak, "peak_flops_per_second", lambda name, dtype: None)
    lines = []
    config = TrainConfig(model_dir=str(tmp_path / "run"), profile_steps="2,5", **QUICK)
    result = train_and_evaluate(config, log=lines.append)
    assert len([line for line in lines if line.startswith("MFU unavailable: no datasheet peak")]) == 1
    assert "mfu" not in result.run_figures and not any(" | MFU " in line for line in lines)
    # The run's flag file, beside run_config.json, gives back its whole configuration.
    assert _parse_flag_file(tmp_path / "run" / FLAG_FILE) == config


def test_the_flag_file_holds_every_kind_of_setting(tmp_path):
    config = TrainConfig(model="mlp", optimizer="adamw", weight_decay=0.05, learning_rate=1e-05, normalize=False,
                         export=False, deterministic=True, data_dir=None, unfreeze_from="", profile_steps="3,9",
                         lr_schedule="step", model_dir="runs/a b", train_steps=40, warmup_steps=0)
    text = flag_file_text(config.to_dict())
    assert "--nonormalize\n" in text and "--deterministic\n" in text and "--learning_rate=1e-05\n" in text
    assert "--data_dir" not in text  # Unset: its default, None.
    (tmp_path / FLAG_FILE).write_text(text)
    assert _parse_flag_file(tmp_path / FLAG_FILE) == config


def _parse_flag_file(path):
    """The TrainConfig `python -m training.train --flagfile=<path>` would run."""
    from training import train as train_script

    train_script.FLAGS(["train", f"--flagfile={path}"])
    try:
        return train_script.config_from_flags()
    finally:
        train_script.FLAGS.unparse_flags()  # The flags are process-wide; leave them as found.


class _TokenTask:
    def throughput_unit(self):
        return ("tokens", 16)


def test_the_progress_line_counts_the_task_unit():
    reporter = ProgressReporter(total_steps=10, global_batch_size=4, unit=throughput_unit(_TokenTask()),
                                cost=StepCost(flops_per_step=1e6, peak_flops_per_second=1e9))
    figures = reporter.report(step=5, steps_done=5, metrics={"loss": 1.0})
    assert figures["tokens_per_second"] == pytest.approx(16 * figures["examples_per_second"])
    assert figures["mfu"] == pytest.approx(1e6 * figures["examples_per_second"] / 4 / 1e9)
    line = reporter.format(5, figures)
    assert " tokens/s | MFU " in line and "examples/s" not in line and "tokens_per_second" not in line


def test_a_bad_throughput_unit_names_the_task():
    class BadUnit:
        def throughput_unit(self):
            return ("tokens", 0)

    with pytest.raises(TaskError, match=r"^BadUnit.throughput_unit\(\) returned \('tokens', 0\)"):
        throughput_unit(BadUnit())


def test_an_unwritable_tensorboard_directory_is_one_line_naming_it(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "train").write_text("a file where the training events' directory goes")
    with pytest.raises(StorageError, match=rf"^cannot write TensorBoard events to {run}/train: ") as error:
        train_and_evaluate(TrainConfig(model_dir=str(run), **QUICK), log=lambda line: None)
    assert "\n" not in str(error.value)
    assert not list(run.glob("ckpt-*"))  # Refused before any step: nothing half-written.


@pytest.mark.parametrize("name, dtype, tflops", [
    ("NVIDIA A100-SXM4-40GB", "bfloat16", 312.0),
    ("NVIDIA H100 80GB HBM3", "float16", 989.4),
    ("NVIDIA H100 PCIe", "bfloat16", None),  # A different part with lower clocks: not guessed.
    ("NVIDIA L40S", "bfloat16", None),  # Not an L4.
    ("Tesla T4", "bfloat16", None),  # Turing has no bfloat16 tensor cores.
    ("Tesla V100-SXM2-16GB", "float16", 125.0),
    ("Intel(R) Xeon(R) Processor @ 2.50GHz", "float32", None),
])
def test_datasheet_peaks_are_looked_up_by_device_name(name, dtype, tflops):
    peak = device_peak.peak_flops_per_second(name, dtype)
    assert peak == (None if tflops is None else pytest.approx(tflops * 1e12))


def test_float32_on_ampere_counts_tf32_only_while_tensorflow_uses_it():
    enabled = tf.config.experimental.tensor_float_32_execution_enabled()
    try:
        tf.config.experimental.enable_tensor_float_32_execution(True)
        assert device_peak.peak_flops_per_second("NVIDIA A100-PCIE-40GB", "float32") == pytest.approx(156e12)
        tf.config.experimental.enable_tensor_float_32_execution(False)
        assert device_peak.peak_flops_per_second("NVIDIA A100-PCIE-40GB", "float32") == pytest.approx(19.5e12)
    finally:
        tf.config.experimental.enable_tensor_float_32_execution(enabled)


def test_op_profile_of_a_run_without_a_trace_is_one_line_naming_the_directory(tmp_path):
    with pytest.raises(ValueError, match=rf"^--run_dir={tmp_path}: holds no profiler trace .* train with "
                                         r"--profile_steps=START,END first$"):
        summarize_run_trace(str(tmp_path), top=5)


def test_gpu_peak_memory_is_each_loop_largest_allocator_peak(monkeypatch):
    # TensorFlow's allocator API, faked for two GPUs: a peak holds until reset_memory_stats.
    peaks = {"GPU:0": 100, "GPU:1": 300}
    monkeypatch.setattr(tf.config, "list_physical_devices", lambda kind: [
        types.SimpleNamespace(name=f"/physical_device:{name}") for name in peaks] if kind == "GPU" else [])
    monkeypatch.setattr(tf.config.experimental, "get_memory_info",
                        lambda device: {"current": 0, "peak": peaks[device]})
    monkeypatch.setattr(tf.config.experimental, "reset_memory_stats", lambda device: peaks.update({device: 0}))
    memory = PeakMemory("gpu")
    assert memory.scalar_name() == "peak_device_memory_bytes" and memory.source == "device allocator peak"
    assert memory.peak_bytes() == 300
    peaks["GPU:0"] = 50  # The next loop's peak, not the run's.
    assert memory.peak_bytes() == 50


def test_cpu_peak_memory_is_the_process_peak_rss():
    memory = PeakMemory("cpu")
    assert memory.scalar_name() == "peak_host_memory_bytes"
    # ru_maxrss is KiB on Linux: the process holds TensorFlow, far more than 100 MiB and less than 1 TiB.
    assert 100 * 2**20 < memory.peak_bytes() < 2**40
