"""Transfer learning in two phases: a new head on a frozen pretrained base, then fine-tuning.

Phase one trains for --train_steps at --learning_rate, checkpointing in --model_dir. With
--freeze_base only the head learns; the base's BatchNorm layers run in inference mode. Phase
two, with --unfreeze_from, starts from phase one's final weights, unfreezes the base from that
block (its BatchNorm layers stay frozen, `layers.freezing`) and trains --fine_tune_steps more
with a fresh optimizer at --fine_tune_learning_rate, decaying without warmup (the head is
already trained), checkpointing in --model_dir/fine_tune. Each phase resumes on its own; a
finished phase only re-evaluates.
"""

import dataclasses
import os

import tensorflow as tf

from layers.freezing import freeze_base, unfreeze_base_from
from layers.pretrained_weights import load_pretrained_weights
from training.model_checks import create_checked_model
from training.train_lib import train_and_evaluate

FINE_TUNE_DIRECTORY = "fine_tune"


def train_in_phases(config, datasets, log=print):
    """Runs phase one and, when `config.unfreeze_from` is set, phase two; returns the last TrainResult."""
    result = train_and_evaluate(config, datasets=datasets, model_fn=make_model_fn(config, datasets, log),
                                log=log)
    if not config.unfreeze_from:
        return result
    phase_one = tf.train.latest_checkpoint(config.model_dir)
    log(f"Fine-tuning from {phase_one}: base unfrozen from {config.unfreeze_from}, "
        f"{config.fine_tune_steps} steps at learning rate {config.fine_tune_learning_rate}")
    return train_and_evaluate(fine_tuning_config(config), datasets=datasets,
                              model_fn=make_model_fn(config, datasets, log, phase_one=phase_one), log=log)


def fine_tuning_config(config):
    """Phase two's settings: its own directory, steps and learning rate, no warmup, no third phase."""
    return dataclasses.replace(
        config, model_dir=os.path.join(config.model_dir, FINE_TUNE_DIRECTORY),
        train_steps=config.fine_tune_steps, learning_rate=config.fine_tune_learning_rate, warmup_steps=0,
        unfreeze_from="")


def make_model_fn(config, datasets, log, phase_one=None):
    """Returns model_fn(num_classes) for `train_and_evaluate`: the model of `config.model`, built.

    Phase one (`phase_one` None) loads `config.pretrained_weights` and freezes the base if asked;
    phase two restores the checkpoint `phase_one` and unfreezes from `config.unfreeze_from`.

    Raises (from model_fn):
      ConfigError: when the model cannot take the dataset's images.
      PretrainedWeightsError: when the weight file does not fit the model.
    """
    input_shape = tuple(datasets.input_shape)

    def model_fn(num_classes):
        model = create_checked_model(config.model, num_classes, input_shape, config.dataset)
        if phase_one:
            # `model_variables` as train_lib saves it: it also reaches layers Keras keeps in lists.
            tf.train.Checkpoint(model=model, model_variables=list(model.variables)).restore(
                phase_one).assert_existing_objects_matched().expect_partial()
        elif config.pretrained_weights:
            loaded = load_pretrained_weights(model, os.path.expanduser(config.pretrained_weights))
            unused = f" (unused from the file: {', '.join(loaded.ignored)})" if loaded.ignored else ""
            log(f"Pretrained weights: {len(loaded.loaded)} layers from {config.pretrained_weights}{unused}")
        if config.freeze_base:
            freeze_base(model)
        if phase_one:
            unfreeze_base_from(model, config.unfreeze_from)
        if config.freeze_base:
            what = f"head and base from {config.unfreeze_from}" if phase_one else "head only; base frozen"
            log(f"Training {_count(model.trainable_variables):,} of {_count(model.variables):,} parameters "
                f"({what})")
        return model

    return model_fn


def _count(variables):
    return sum(int(tf.size(variable)) for variable in variables)
