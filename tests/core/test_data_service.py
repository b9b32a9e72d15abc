"""core/data_service.py and core/data_service_servers.py against real servers on 127.0.0.1: the
guarantee of each mode on tapecraft's own pipeline, the dispatcher probe, clean stops, bad flags."""

import os
import signal
import threading
import time

import numpy as np
import pytest
import tensorflow as tf

from core.data import DatasetError
from core.data.augmentation import create_augmentation
from core.data.in_memory import InMemoryExamples
from core.data_service import DataService, check_dispatcher, check_splittable, parse_service_address
from core.data_service_servers import (ServerStartError, check_port_free, serve_until_stopped, start_dispatcher,
                                       start_worker)
from tests.data_service_servers import free_port, local_service
from training import TrainConfig
from training.config import ConfigError
from training.environment_checks import check_environment


def _batch_ids(dataset, count):
    """The labels of each of `count` batches: with labels 0..N-1, a batch's identity."""
    return [tuple(labels) for _, labels in dataset.take(count).as_numpy_iterator()]


def _examples(size=64):
    return InMemoryExamples(np.arange(size, dtype=np.float32)[:, None], np.arange(size, dtype=np.int64))


def test_mode_dynamic_makes_each_batch_of_the_in_memory_stream_once_across_two_workers():
    local = _batch_ids(_examples().shuffled_batches(seed=3, batch_size=4), 800)  # 50 epochs of 16 batches.
    with local_service(num_workers=2) as dispatcher:
        service = DataService(dispatcher, "dynamic", "unused")
        served = _batch_ids(service.distribute(_examples().shuffled_batches(seed=3, batch_size=4)), 200)
    # Each worker takes its own batch indices from the dispatcher, so every batch the service makes
    # is a different batch of the stream (a counter source would make each one once per worker),
    # from near its start (workers read ahead, so not exactly the first 200).
    positions = [local.index(batch) for batch in served]
    assert len(set(positions)) == len(served)
    assert max(positions) < 400, sorted(positions)


def test_mode_dynamic_refuses_a_stream_it_cannot_split_and_takes_the_built_in_ones():
    counted = tf.data.Dataset.counter().map(lambda index: (tf.fill([4, 1], index), tf.fill([4], index)))
    with pytest.raises(DatasetError, match=r"^--data_service_mode=dynamic: .* starts from Dataset.counter\(\)"):
        check_splittable(counted)
    check_splittable(_examples().shuffled_batches(seed=0, batch_size=4))
    images = InMemoryExamples(np.zeros((64, 4, 4, 1), np.float32), np.arange(64))
    check_splittable(create_augmentation("crop_flip", (4, 4, 1))(images.shuffled_forever(0), 0).batch(4))
    check_splittable(tf.data.Dataset.from_tensor_slices(np.arange(8)).shuffle(8).repeat().batch(4))


def test_mode_off_with_one_worker_is_the_local_stream_in_order_after_the_skipped_batches():
    local = _batch_ids(_examples().shuffled_batches(seed=5, batch_size=4), 40)
    with local_service(num_workers=1) as dispatcher:
        off = DataService(dispatcher, "off", "unused")
        replayed = _batch_ids(off.distribute(_examples().shuffled_batches(seed=5, batch_size=4), skip_batches=7),
                              33)
        dynamic = DataService(dispatcher, "dynamic", "unused")
        restarted = _batch_ids(dynamic.distribute(_examples().shuffled_batches(seed=5, batch_size=4),
                                                  skip_batches=7), 33)
    assert replayed == local[7:]
    assert restarted[0] in local[:7]  # Mode dynamic starts the stream again (in an order of its own).


def test_the_probe_tells_a_dispatcher_from_a_worker_and_from_nothing_in_bounded_time():
    with local_service(num_workers=0) as dispatcher:
        check_dispatcher(dispatcher)
        worker_port = free_port()
        worker = start_worker(dispatcher, worker_port, "127.0.0.1")
        try:
            with pytest.raises(ValueError, match="not a tf.data service dispatcher"):
                check_dispatcher(f"127.0.0.1:{worker_port}")
        finally:
            worker.stop()
    started = time.monotonic()
    with pytest.raises(ValueError, match=r"no tf.data service dispatcher at 127.0.0.1:\d+"):
        check_dispatcher(f"127.0.0.1:{free_port()}", timeout_seconds=5)
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("value, expected", [
    ("grpc://10.0.0.5:5050", "10.0.0.5:5050"), ("localhost:5050", "localhost:5050"),
    ("grpc://[::1]:5050", "[::1]:5050"),
])
def test_service_addresses(value, expected):
    assert parse_service_address(value) == expected


@pytest.mark.parametrize("value", ["grpc://host", "http://host:5050", "grpc://host:0", "grpc://:5050",
                                   "host:port", "grpc://host:5050/path", "grpc://host:70000"])
def test_a_malformed_data_service_flag_is_one_line_naming_it(value):
    with pytest.raises(ConfigError, match=r"^--data_service=.*grpc://host:port"):
        TrainConfig(data_service=value)


def test_mode_flag_and_its_contradiction_with_deterministic():
    with pytest.raises(ConfigError, match=r"^--data_service_mode='static': must be one of dynamic, off"):
        TrainConfig(data_service_mode="static")
    with pytest.raises(ConfigError, match=r"^--deterministic=True: --data_service_mode=dynamic"):
        TrainConfig(data_service="grpc://localhost:5050", deterministic=True)
    TrainConfig(data_service="grpc://localhost:5050", deterministic=True, data_service_mode="off")


def test_an_unreachable_dispatcher_stops_the_run_at_once_naming_the_flag(tmp_path):
    address = f"grpc://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(ConfigError, match=rf"^--data_service='{address}': no tf.data service dispatcher"):
        check_environment(TrainConfig(data_service=address, model_dir=str(tmp_path)))
    assert time.monotonic() - started < 5


def test_a_taken_port_is_refused_instead_of_shared():
    with local_service(num_workers=0) as dispatcher:
        port = int(dispatcher.rsplit(":", 1)[1])
        with pytest.raises(ServerStartError, match=rf"^--port={port}: something already listens there"):
            check_port_free(port)
        with pytest.raises(ServerStartError, match=rf"^--port={port}"):
            start_dispatcher(port)


def test_sigterm_stops_a_server_cleanly_and_restores_the_handlers():
    server = start_dispatcher(free_port())
    previous = signal.getsignal(signal.SIGTERM)
    threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGTERM)).start()
    assert serve_until_stopped(server, poll_seconds=0.05) == "SIGTERM"
    assert signal.getsignal(signal.SIGTERM) is previous
    # A stopped dispatcher answers nothing (its port is free again).
    with pytest.raises(ValueError, match="no tf.data service dispatcher"):
        check_dispatcher(server.target.split("://")[1], timeout_seconds=2)
