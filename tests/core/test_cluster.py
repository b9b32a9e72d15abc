"""The multi-worker cluster from --worker_hosts/--task_index or TF_CONFIG, with one-line errors."""

import json

import pytest

from core.cluster import create_cluster_resolver, is_chief, parse_worker_hosts, write_directory
from core.distribution import create_strategy

HOSTS = "127.0.0.1:2222,127.0.0.1:2223"


def test_worker_hosts_flags_describe_the_same_cluster_as_tf_config():
    from_flags = create_cluster_resolver(HOSTS, 1, environ={})
    tf_config = {"cluster": {"worker": HOSTS.split(",")}, "task": {"type": "worker", "index": 1}}
    from_environment = create_cluster_resolver("", 0, environ={"TF_CONFIG": json.dumps(tf_config)})
    assert from_flags.cluster_spec().as_dict() == {"worker": ["127.0.0.1:2222", "127.0.0.1:2223"]}
    assert (from_flags.task_type, from_flags.task_id, from_flags.rpc_layer) == ("worker", 1, "grpc")
    assert from_environment.cluster_spec().as_dict() == from_flags.cluster_spec().as_dict()
    assert from_environment.task_type == from_flags.task_type
    assert from_environment.task_id == from_flags.task_id


def test_host_names_and_bracketed_ipv6_addresses_are_accepted():
    assert parse_worker_hosts("worker-0.cluster.local:2222, [::1]:2223") == ("worker-0.cluster.local:2222",
                                                                               "[::1]:2223")


@pytest.mark.parametrize("text,message", [
    ("127.0.0.1", "entry '127.0.0.1' is not host:port"),
    ("127.0.0.1:2222,", "entry '' is not host:port"),
    ("127.0.0.1:http", "entry '127.0.0.1:http' is not host:port"),
    ("127.0.0.1:70000", "with a port in 1-65535"),
    (":2222", "entry ':2222' is not host:port"),
    ("127.0.0.1:2222, 127.0.0.1:2222", "127.0.0.1:2222 is listed twice"),
    ("10.0.0.1:2222;10.0.0.2:2222", "entry '10.0.0.1:2222;10.0.0.2:2222' is not host:port"),
])
def test_malformed_worker_hosts_are_named(text, message):
    with pytest.raises(ValueError, match=message):
        parse_worker_hosts(text)


@pytest.mark.parametrize("worker_hosts,task_index,environment,message", [
    (HOSTS, 2, {}, "--task_index=2: must be in 0-1 (one per --worker_hosts entry)"),
    ("localhost", 0, {}, "--worker_hosts='localhost': entry 'localhost' is not host:port"),
    (HOSTS, 0, {"TF_CONFIG": "{}"}, "TF_CONFIG is set too; describe the cluster one way only"),
    ("", 0, {}, "--distribution_strategy=multi_worker: describe the cluster with --worker_hosts"),
    ("", 0, {"TF_CONFIG": "{cluster:"}, "TF_CONFIG is not valid JSON"),
    ("", 0, {"TF_CONFIG": '{"cluster": {}}'}, 'TF_CONFIG needs "cluster"'),
    ("", 0, {"TF_CONFIG": '{"cluster": {"worker": "a:1"}, "task": {}}'}, 'job "worker" must be a list'),
    ("", 0, {"TF_CONFIG": '{"cluster": {"worker": ["a"]}, "task": {}}'}, "entry 'a' is not host:port"),
    ("", 0, {"TF_CONFIG": '{"cluster": {"worker": ["a:1"]}, "task": {"type": "ps", "index": 0}}'},
     "task type 'ps' is not a job of the cluster (worker)"),
    ("", 0, {"TF_CONFIG": '{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 1}}'},
     'task index 1 is not in 0-0 (the "worker" job has 1 tasks)'),
])
def test_a_cluster_that_does_not_hold_together_is_refused_in_one_line(worker_hosts, task_index, environment,
                                                                      message):
    with pytest.raises(ValueError) as error:
        create_cluster_resolver(worker_hosts, task_index, environ=environment)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_a_single_machine_strategy_is_its_own_chief_and_writes_checkpoints_in_model_dir(tmp_path):
    strategy = create_strategy("mirrored", 2)
    assert is_chief(strategy)
    assert write_directory(str(tmp_path), strategy) == str(tmp_path)
