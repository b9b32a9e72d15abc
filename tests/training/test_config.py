"""Every setting rejects a bad value with one line naming the flag, the value and what is allowed."""

import pytest

from training.config import ConfigError, TrainConfig

BAD_VALUES = [
    ("model", ":Net", "must look like package.module:ClassName"),
    ("task", "", "--task='': must name a built-in task or an import path"),
    ("task", "my_tasks:", "must look like package.module:ClassName"),
    ("dataset", "imagenet22k", "--dataset='imagenet22k': must be one of"),
    ("batch_size", 0, "--batch_size=0: must be a positive integer"),
    ("batch_size", -3, "--batch_size=-3: must be a positive integer"),
    ("batch_size", 2.5, "--batch_size=2.5: must be a positive integer"),
    ("train_steps", 0, "--train_steps=0: must be a positive integer"),
    ("learning_rate", 0.0, "--learning_rate=0.0: must be a number in (0, 10)"),
    ("learning_rate", -1e-3, "--learning_rate=-0.001: must be a number in (0, 10)"),
    ("learning_rate", float("nan"), "--learning_rate=nan: must be a number in (0, 10)"),
    ("optimizer", "adagrad", "--optimizer='adagrad': must be one of adam, adamw, sgd"),
    ("lr_schedule", "linear", "--lr_schedule='linear': must be one of cosine, step, constant"),
    ("warmup_steps", -1, "--warmup_steps=-1: must be an integer >= 0"),
    ("weight_decay", -0.1, "--weight_decay=-0.1: must be a number in [0, 1), or unset"),
    ("weight_decay", float("inf"), "--weight_decay=inf: must be a number in [0, 1)"),
    ("weight_decay", 0.01, "--weight_decay=0.01: --optimizer=adam has no weight decay; use"),
    ("clip_grad_norm", -1.0, "--clip_grad_norm=-1.0: must be a number >= 0 (0 disables clipping)"),
    ("clip_grad_norm", float("nan"), "--clip_grad_norm=nan: must be a number >= 0"),
    ("grad_accum_steps", 0, "--grad_accum_steps=0: must be a positive integer"),
    ("grad_accum_steps", 3, "--grad_accum_steps=3: must divide --batch_size=64 into equal micro-batches"),
    ("ema_decay", 1.0, "--ema_decay=1.0: must be 0 (off) or a number in (0, 1)"),
    ("ema_decay", -0.5, "--ema_decay=-0.5: must be 0 (off) or a number in (0, 1)"),
    ("warmup_steps", 5000, "--warmup_steps=5000: must be smaller than --train_steps=1200"),
    ("precision", "float8", "--precision='float8': must be one of float32, mixed_float16, mixed_bfloat16, auto"),
    ("jit_compile", "yes", "--jit_compile='yes': must be one of auto, true, false"),
    ("steps_per_loop", 0, "--steps_per_loop=0: must be a positive integer"),
    ("eval_every", -5, "--eval_every=-5: must be an integer >= 0"),
    ("model_dir", "", "--model_dir='': must name a directory"),
    ("keep_checkpoints", 0, "--keep_checkpoints=0: must be a positive integer"),
    ("checkpoint_every", -1, "--checkpoint_every=-1: must be an integer >= 0"),
    ("on_nan", "ignore", "--on_nan='ignore': must be one of stop, skip, restore"),
    ("seed", -1, "--seed=-1: must be an integer >= 0"),
    ("distribution_strategy", "horovod", "--distribution_strategy='horovod': must be one of"),
    ("num_replicas", -2, "--num_replicas=-2: must be an integer >= 0"),
    ("image_size", -1, "--image_size=-1: must be an integer >= 0"),
    ("image_size", 64, "--image_size=64: only --dataset=image_folder/records resizes its images"),
    ("normalize", "yes", "--normalize='yes': must be true or false"),
    ("augment", "rotate", "--augment='rotate': must be one of none, crop, crop_flip"),
    ("mixup_alpha", -0.2, "--mixup_alpha=-0.2: must be a number from 0 (off) to 100"),
    ("cutmix_alpha", float("inf"), "--cutmix_alpha=inf: must be a number from 0 (off) to 100"),
    ("pretrained_weights", 5, "--pretrained_weights=5: must be a file path"),
    ("freeze_base", True, "--freeze_base=True: needs --pretrained_weights"),
    ("freeze_base", "yes", "--freeze_base='yes': must be true or false"),
    ("unfreeze_from", "block5", "--unfreeze_from='block5': fine-tuning is the phase after --freeze_base"),
    ("fine_tune_steps", 0, "--fine_tune_steps=0: must be a positive integer"),
    ("fine_tune_learning_rate", 0.0, "--fine_tune_learning_rate=0.0: must be a number in (0, 10)"),
    ("export", "no", "--export='no': must be true or false"),
    ("worker_hosts", "127.0.0.1:2222", "--worker_hosts='127.0.0.1:2222': only --distribution_strategy=multi_worker"),
    ("task_index", -1, "--task_index=-1: must be an integer >= 0"),
    # Evaluation jobs, the best checkpoint, hooks (more in tests/training/test_best_checkpoint_and_hooks.py).
    ("sequence_length", -1, "--sequence_length=-1: must be an integer >= 0"),
    ("sequence_length", 128, "--sequence_length=128: a sequence-task flag; --task=image_classification"),
    ("remat", "yes", "--remat='yes': must be true or false"),
    ("skip_undecodable_files", 1, "--skip_undecodable_files=1: must be true or false"),
    ("mode", "eval", "--mode='eval': must be one of train, evaluate, continuous_evaluate"),
    ("checkpoint", "runs/a/ckpt-10", "--checkpoint='runs/a/ckpt-10': names the checkpoint --mode=evaluate tests"),
    ("best_metric", "accuracy", "--best_metric='accuracy': must look like [min:|max:]train|validation/<metric>"),
    ("use_best", "yes", "--use_best='yes': must be true or false"),
    ("hooks", "my_hooks", "--hooks='my_hooks': each entry must look like package.module:make_hooks"),
    ("early_stopping_metric", "test/loss", "--early_stopping_metric='test/loss': must look like"),
    ("early_stopping_patience", 3, "--early_stopping_patience=3: early stopping needs both --early_stopping_metric"),
    ("profile_steps", "1300,1400", "--profile_steps='1300,1400': steps 1300..1400 are outside the run's steps"),
    ("profile_steps", 5, "--profile_steps=5: must be two steps START,END"),
    ("data_service", "10.0.0.5", "--data_service='10.0.0.5': must be a dispatcher address grpc://host:port"),
    ("data_service_mode", "parallel_epochs", "--data_service_mode='parallel_epochs': must be one of dynamic, off"),
    ("skip_bad_records", "yes", "--skip_bad_records='yes': must be true or false"),
    ("skip_bad_records", True, "--skip_bad_records: only --dataset=records reads records one by one"),
    ("max_bad_records_fraction", 1.0, "--max_bad_records_fraction=1.0: must be a number in [0, 1)"),
    ("shuffle_buffer", 0, "--shuffle_buffer=0: must be a positive integer"),
]


@pytest.mark.parametrize("flag,value,message", BAD_VALUES, ids=[f"{f}={v!r}" for f, v, _ in BAD_VALUES])
def test_bad_value_is_rejected_with_a_one_line_message(flag, value, message):
    with pytest.raises(ConfigError) as error:
        TrainConfig(**{flag: value})
    text = str(error.value)
    assert message in text
    assert "\n" not in text


INTEGER_FLAGS = [name for name, field in TrainConfig.__dataclass_fields__.items() if field.type is int]


@pytest.mark.parametrize("flag", INTEGER_FLAGS)
def test_every_integer_flag_refuses_a_value_beyond_its_range(flag):
    with pytest.raises(ConfigError, match=rf"^--{flag}=99999999999999999999: must be .*no larger than|"
                                          rf"^--{flag}=99999999999999999999: must be 0 .* to 1024$"):
        TrainConfig(**{flag: 99999999999999999999})


def test_integer_limits_are_those_tensorflow_and_numpy_take():
    assert TrainConfig(seed=2**32 - 1, train_steps=2**31 - 1).seed == 2**32 - 1
    with pytest.raises(ConfigError, match=r"^--seed=4294967296: must be an integer >= 0 no larger than 4294967295$"):
        TrainConfig(seed=2**32)
    with pytest.raises(ConfigError, match=r"^--train_steps=2147483648: must be a positive integer no larger than "
                                          r"2147483647$"):
        TrainConfig(train_steps=2**31)


def test_every_field_is_covered_by_a_bad_value():
    covered = {flag for flag, _, _ in BAD_VALUES}
    untestable = {"data_dir", "deterministic"}  # Any string / any boolean is acceptable here.
    assert set(TrainConfig.__dataclass_fields__) - untestable <= covered


def test_a_config_names_what_only_the_training_machine_has_without_touching_it():
    # A config is a value: built here for a machine that has the user's module, data and weights.
    config = TrainConfig(task="their_project.tasks:Denoise", model="their_project.nets:UNet",
                         dataset="cifar10", data_dir="/data/not/here", distribution_strategy="multi_worker",
                         worker_hosts="10.0.0.1:2222,10.0.0.2:2222", task_index=1)
    assert TrainConfig(**config.to_dict()) == config


def test_defaults_are_valid_and_round_trip_through_a_dict():
    config = TrainConfig()
    assert TrainConfig(**config.to_dict()) == config


def test_toolbox_settings_within_range_are_accepted():
    TrainConfig(optimizer="adamw", weight_decay=0.05, clip_grad_norm=1.0, grad_accum_steps=4, ema_decay=0.999,
                lr_schedule="step")
    TrainConfig(optimizer="sgd", weight_decay=5e-4, lr_schedule="constant")
    TrainConfig(optimizer="adam", weight_decay=0.0)  # Zero decay is no decay, which adam has.
