"""Self times from a profiler trace: nested events, waits and non-compute threads."""

import pytest
from tensorflow.tsl.profiler.protobuf import xplane_pb2

from benchmarks.trace_summary import classify, self_times, summarize

MICROSECOND = 10**6  # In picoseconds, the trace's unit.


def _space(lines):
    """An XSpace with one plane; `lines` maps a thread name to (name, start_us, duration_us) events."""
    space = xplane_pb2.XSpace()
    plane = space.planes.add(name="/host:CPU")
    ids = {}
    for thread, events in lines.items():
        line = plane.lines.add(name=thread)
        for name, start, duration in events:
            if name not in ids:
                ids[name] = len(ids) + 1
                plane.event_metadata[ids[name]].name = name
            line.events.add(metadata_id=ids[name], offset_ps=start * MICROSECOND,
                            duration_ps=duration * MICROSECOND)
    return space


def test_self_time_subtracts_direct_children_only():
    space = _space({
        "tf_Compute/1": [
            ("Process", 0, 100),                                     # Executor: 100 - 60 - 30 = 10.
            ("model/conv/Conv2D:_MklNativeConv2D", 0, 60),           # 60 - 20 = 40.
            ("model/norm/Mul:Mul", 10, 20),                          # A kernel nested in a kernel.
            ("gradient_tape/conv:_MklNativeConv2DBackpropFilter", 70, 30),
        ],
        "tf_numa_-1_Eigen/2": [("MatMul.4", 0, 50), ("BlockUntilReady", 50, 40)],  # The wait is idle.
        "python": [("train_loop", 0, 500)],                         # Not a compute thread.
    })
    totals = self_times(space)
    assert totals["Process"] == pytest.approx(10e-6)
    assert totals["_MklNativeConv2D"] == pytest.approx(40e-6)
    assert totals["Mul"] == pytest.approx(20e-6)
    assert totals["_MklNativeConv2DBackpropFilter"] == pytest.approx(30e-6)
    assert totals["MatMul.4"] == pytest.approx(50e-6)
    assert "BlockUntilReady" not in totals and "train_loop" not in totals


def test_kinds_of_work_and_shares():
    assert classify("_MklNativeConv2DBackpropInput") == "convolution: input gradient"
    assert classify("convolution.3") == "convolution: forward"
    assert classify("MatMul_1.14") == classify("_MklNativeFusedMatMul") == "matmul"
    assert classify("wrapped_reduce-window") == "pooling"
    assert classify("Process") == "runtime (executor, XLA launches)"
    assert classify("ParallelFor").startswith("kernels' work on pool threads")
    assert classify("SquaredDifference").startswith("elementwise")
    lines = summarize({"_MklNativeConv2D": 0.3, "Mul": 0.1}, steps=2, top=5)
    assert lines[1].split()[-2:] == ["150.00", "75.0%"]  # Convolution: 0.3 s over 2 steps, 3/4 of the time.
