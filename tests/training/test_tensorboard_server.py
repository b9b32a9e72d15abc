"""A real TensorBoard server reads what a run wrote: its scalars, its HParams row and its profile.

One short run with a profiler window trains in this process; `tensorboard` then serves its
directory on 127.0.0.1 and a free port, and the test asks its HTTP data API what a user's browser
would see. The Profile tab's data needs the `tensorboard-plugin-profile` package: with it, its run
listing must name the run's trace; without it, TensorBoard shows its Profile tab's install notice
(`profile_redirect`) and the trace must sit where that plugin looks for it.

Cost: a 12-step run (~3 s) and a TensorBoard server start (~5 s).
"""

import contextlib
import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

from benchmarks.trace_summary import read_trace, summarize_run_trace
from training import TrainConfig
from training.profiling import trace_files
from training.run import run_training

PROFILE_PLUGIN = importlib.util.find_spec("tensorboard_plugin_profile") is not None


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def _tensorboard(logdir):
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "tensorboard.main", f"--logdir={logdir}", "--host=127.0.0.1", f"--port={port}",
         "--load_fast=false", "--reload_interval=1"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def _get(url, path, body=None):
    request = urllib.request.Request(url + path, data=None if body is None else json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def _wait_for(fetch, ready, seconds=30):
    """Polls `fetch()` until `ready(answer)`: the server loads the directory in the background."""
    deadline, answer = time.monotonic() + seconds, None
    while time.monotonic() < deadline:
        with contextlib.suppress(urllib.error.URLError, ConnectionError, json.JSONDecodeError):
            answer = fetch()
            if ready(answer):
                return answer
        time.sleep(0.3)
    raise AssertionError(f"TensorBoard did not serve the run in {seconds} s; last answer: {answer!r}")


def _host_events(trace):
    """The run's named host events in a trace, in time order."""
    space, names = read_trace(trace), []
    for plane in space.planes:
        metadata = {key: value.name for key, value in plane.event_metadata.items()}
        for line in plane.lines:
            for event in line.events:
                name = metadata[event.metadata_id]
                if name in ("training_loop", "evaluate", "checkpoint"):
                    names.append((line.timestamp_ns * 1000 + event.offset_ps, name))
    return [name for _, name in sorted(names)]


def test_tensorboard_serves_the_run_scalars_hparams_and_profile(tmp_path):
    run = tmp_path / "run"
    config = TrainConfig(model_dir=str(run), train_steps=12, warmup_steps=1, steps_per_loop=4, eval_every=8,
                         checkpoint_every=8, batch_size=32, precision="float32", jit_compile="false", export=False,
                         learning_rate=0.01, profile_steps="3,8")
    result = run_training(config, log=lambda line: None)
    test_accuracy = result.training.test_metrics["accuracy"]

    with _tensorboard(tmp_path) as url:  # The parent directory: a sweep's layout, one run in it.
        tags = _wait_for(lambda: _get(url, "/data/plugin/scalars/tags"),
                         lambda answer: {"run/train", "run/validation", "run/test"} <= set(answer))
        assert {"loss", "accuracy", "examples_per_second", "learning_rate", "peak_host_memory_bytes"} <= \
            set(tags["run/train"])
        query = urllib.parse.urlencode({"run": "run/train", "tag": "loss"})
        loss = _get(url, f"/data/plugin/scalars/scalars?{query}")
        assert [step for _, step, _ in loss] == [2, 6, 8, 12]  # One point per loop, cut at the window.

        experiment = _get(url, "/data/plugin/hparams/experiment", {"experimentName": ""})
        hparams = {info["name"] for info in experiment["hparamInfos"]}
        assert {"learning_rate", "batch_size", "model", "profile_steps", "train_steps"} <= hparams
        metrics = {(info["name"].get("group"), info["name"]["tag"]) for info in experiment["metricInfos"]}
        assert {("validation", "accuracy"), ("test", "accuracy"), ("test", "loss")} <= metrics
        groups = _get(url, "/data/plugin/hparams/session_groups", {
            "experimentName": "", "startIndex": 0, "sliceSize": 10,
            "allowedStatuses": ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"]})
        (group,) = groups["sessionGroups"]
        assert group["hparams"]["learning_rate"] == 0.01 and group["hparams"]["profile_steps"] == "3,8"
        values = {(value["name"].get("group"), value["name"]["tag"]): value["value"]
                  for value in group["metricValues"]}
        assert abs(values[("test", "accuracy")] - test_accuracy) < 1e-6

        (trace,) = trace_files(run)
        assert trace.startswith(os.path.join(str(run), "train", "plugins", "profile", ""))
        # Two loop calls (steps 3-6, cut at the window's start, and 7-8, cut at step 8's evaluation and
        # checkpoint), then that boundary's host work; the first loop (steps 1-2) is outside the window.
        assert _host_events(trace) == ["training_loop", "training_loop", "evaluate", "checkpoint"]
        # benchmarks.op_profile --run_dir summarizes the same trace per step of the window (6 steps).
        path, lines = summarize_run_trace(str(run), top=3)
        assert path == trace and lines[0] == f"{trace}: steps 3..8" and lines[1].startswith("kind of work")
        plugins = _get(url, "/data/plugins_listing")
        if PROFILE_PLUGIN:
            runs = _wait_for(lambda: _get(url, "/data/plugin/profile/runs"), lambda answer: bool(answer))
            assert any(name.startswith("run/train") for name in runs)
        else:
            assert "profile_redirect" in plugins  # The Profile tab, telling the user what to install.
