"""--distribution_strategy=multi_worker needs a cluster that holds together, named in one line."""

import json

import pytest

from training.config import ConfigError, TrainConfig
from training.environment_checks import check_environment

HOSTS = "127.0.0.1:2222,127.0.0.1:2223"


@pytest.fixture(autouse=True)
def _no_tf_config(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)


@pytest.mark.parametrize("settings,message", [
    (dict(), "--distribution_strategy=multi_worker: describe the cluster with --worker_hosts=host:port,... "
             "and --task_index, or the TF_CONFIG environment variable"),
    (dict(task_index=1), "--task_index=1: goes with --worker_hosts (TF_CONFIG has its own index)"),
    (dict(worker_hosts=HOSTS, task_index=2), "--task_index=2: must be in 0-1 (one per --worker_hosts entry)"),
    (dict(worker_hosts="10.0.0.1:2222;10.0.0.2:2222"), "--worker_hosts='10.0.0.1:2222;10.0.0.2:2222': entry"),
    (dict(worker_hosts=["10.0.0.1:2222"]), "--worker_hosts=['10.0.0.1:2222']: must be a comma-separated"),
])
def test_a_multi_worker_run_without_a_coherent_cluster_is_refused(settings, message):
    with pytest.raises(ConfigError) as error:  # A bad value, or a cluster this machine cannot describe.
        check_environment(TrainConfig(distribution_strategy="multi_worker", **settings))
    assert str(error.value).startswith(message)
    assert "\n" not in str(error.value)


def test_a_bad_tf_config_is_refused_before_any_work(monkeypatch):
    tf_config = {"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 3}}
    monkeypatch.setenv("TF_CONFIG", json.dumps(tf_config))
    with pytest.raises(ConfigError, match="TF_CONFIG: task index 3 is not in 0-0"):
        check_environment(TrainConfig(distribution_strategy="multi_worker"))


def test_flags_or_tf_config_make_a_valid_config(monkeypatch):
    check_environment(TrainConfig(distribution_strategy="multi_worker", worker_hosts=HOSTS, task_index=1))
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": HOSTS.split(",")},
                                                "task": {"type": "worker", "index": 1}}))
    check_environment(TrainConfig(distribution_strategy="multi_worker"))
