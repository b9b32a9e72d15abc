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
from training.tasks.classifier_checks import create_checked_model

FINE_TUNE_DIRECTORY = "fine_tune"


def fine_tuning_phase(config):
    """Phase two's settings (its own directory, steps and learning rate, no warmup, no third phase)
    and the checkpoint of phase one it starts from."""
    phase_one = tf.train.latest_checkpoint(config.model_dir)
    fine_tuning = dataclasses.replace(
        config, model_dir=os.path.join(config.model_dir, FINE_TUNE_DIRECTORY),
        train_steps=config.fine_tune_steps, learning_rate=config.fine_tune_learning_rate, warmup_steps=0,
        unfreeze_from="", profile_steps="")  # The profiler window is phase one's steps.
    return fine_tuning, phase_one


def build_model(model_fn, config, splits, log, phase_one=None, model_flag=None):
    """The model of `model_fn(num_classes)`, its weights created for the dataset's images and checked
    against them (training/tasks/classifier_checks.py); `model_flag` names it in errors.

    Phase one (`phase_one` None) loads `config.pretrained_weights` and freezes the base if asked;
    phase two, `phase_one` = (checkpoint, unfreeze_from), restores phase one's final weights and
    unfreezes the base from that block.

    Raises:
      ConfigError: when the model does not fit the dataset's images and classes.
      PretrainedWeightsError: when the weight file does not fit the model.
    """
    model = create_checked_model(model_fn, splits.num_classes, splits.input_shape, model_flag,
                                 f"--dataset={config.dataset}")
    if phase_one:
        checkpoint, unfreeze_from = phase_one
        log(f"Fine-tuning from {checkpoint}: base unfrozen from {unfreeze_from}, "
            f"{config.train_steps} steps at learning rate {config.learning_rate}")
        # `model_variables` as the run saves it: it also reaches layers Keras keeps in lists.
        tf.train.Checkpoint(model=model, model_variables=list(model.variables)).restore(
            checkpoint).assert_existing_objects_matched().expect_partial()
    elif config.pretrained_weights:
        loaded = load_pretrained_weights(model, os.path.expanduser(config.pretrained_weights))
        unused = f" (unused from the file: {', '.join(loaded.ignored)})" if loaded.ignored else ""
        log(f"Pretrained weights: {len(loaded.loaded)} layers from {config.pretrained_weights}{unused}")
    if config.freeze_base:
        freeze_base(model)
    if phase_one:
        unfreeze_base_from(model, phase_one[1])
    if config.freeze_base:
        what = f"head and base from {phase_one[1]}" if phase_one else "head only; base frozen"
        log(f"Training {_count(model.trainable_variables):,} of {_count(model.variables):,} parameters "
            f"({what})")
    return model


def _count(variables):
    return sum(int(tf.size(variable)) for variable in variables)
