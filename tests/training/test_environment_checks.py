"""What the training machine must provide is checked when the run starts, one line per problem."""

import pytest

from training.config import ConfigError, TrainConfig
from training.environment_checks import check_environment
from training.task import TaskError

MACHINE_PROBLEMS = [
    (dict(model="no_such_model"), ConfigError, "--model='no_such_model': unknown model"),
    (dict(model="no_such_module:Net"), ConfigError,
     "--model='no_such_module:Net': model 'no_such_module:Net': cannot import module"),
    (dict(model="layers.registry:NoSuchClass"), ConfigError, "has no attribute 'NoSuchClass'"),
    (dict(pretrained_weights="w.h5"), ConfigError,
     "--pretrained_weights='w.h5': --model=small_cnn has no pretrained base"),
    (dict(model="vgg16", pretrained_weights="/no/such/w.h5"), ConfigError,
     "--pretrained_weights='/no/such/w.h5': no such file"),
    (dict(dataset="mnist", data_dir="/no/such/dir"), ConfigError, "--data_dir='/no/such/dir': no such directory"),
    (dict(distribution_strategy="multi_worker"), ConfigError,
     "--distribution_strategy=multi_worker: describe the cluster"),
    (dict(task="translation"), TaskError, "--task='translation': unknown task; expected one of image_classification"),
    (dict(task="no_such_package.tasks:Task"), TaskError, "cannot import module 'no_such_package.tasks'"),
    (dict(task="training.config:TrainConfig"), TaskError, "lacks build_datasets, build_model, compute_loss"),
]


@pytest.mark.parametrize("settings,error_type,message", MACHINE_PROBLEMS,
                         ids=[",".join(f"{k}={v}" for k, v in s.items()) for s, _, _ in MACHINE_PROBLEMS])
def test_a_missing_file_module_or_cluster_is_one_line_naming_the_flag(settings, error_type, message, monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    config = TrainConfig(**settings)  # The value itself is fine: only this machine lacks something.
    with pytest.raises(error_type) as error:
        check_environment(config)
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_a_file_given_as_data_dir_is_named(tmp_path):
    file = tmp_path / "mnist.npz"
    file.write_bytes(b"")
    with pytest.raises(ConfigError, match="is a file; give the directory that holds it"):
        check_environment(TrainConfig(dataset="mnist", data_dir=str(file)))


def test_unfreeze_from_names_a_block_of_the_model(tmp_path):
    weights = tmp_path / "w.h5"
    weights.write_bytes(b"")
    config = TrainConfig(model="vgg16", pretrained_weights=str(weights), freeze_base=True, unfreeze_from="block9",
                         normalize=False)
    with pytest.raises(ConfigError, match="--unfreeze_from='block9'"):
        check_environment(config)


def test_a_users_own_model_is_not_resolved_from_the_model_flag():
    check_environment(TrainConfig(model="no_such_module:Net"), model_given=True)
