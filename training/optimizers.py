"""Optimizers by the name `--optimizer` uses."""

import keras


def create_optimizer(name, learning_rate):
    """Builds a Keras optimizer.

    Args:
      name: "adam", "adamw" (decoupled weight decay 1e-4) or "sgd" (Nesterov momentum 0.9).
      learning_rate: a float or a LearningRateSchedule called with the optimizer's iterations.
    """
    if name == "adam":
        return keras.optimizers.Adam(learning_rate)
    if name == "adamw":
        return keras.optimizers.AdamW(learning_rate, weight_decay=1e-4)
    if name == "sgd":
        return keras.optimizers.SGD(learning_rate, momentum=0.9, nesterov=True)
    raise ValueError(f"unknown optimizer {name!r}")
