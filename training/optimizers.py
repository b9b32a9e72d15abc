"""Optimizers by the name `--optimizer` uses, with decoupled weight decay configured.

Each is Keras' optimizer with its update computed by TensorFlow's fused kernel
(training/fused_optimizers.py): the same steps and checkpoints, fewer passes over the weights.
"""

from training.fused_optimizers import FusedAdam, FusedAdamW, FusedSGD
from training.weight_decay import exclude_from_weight_decay, resolve_weight_decay

OPTIMIZERS = ("adam", "adamw", "sgd")


def create_optimizer(name, learning_rate, weight_decay=None, variables=()):
    """Builds an unbuilt Keras optimizer.

    Args:
      name: "adam", "adamw" (Adam with decoupled weight decay) or "sgd" (Nesterov momentum 0.9,
        decoupled weight decay when asked for).
      learning_rate: a float or a LearningRateSchedule called with the optimizer's iterations.
      weight_decay: decoupled decay per unit of learning rate; None for the optimizer's default
        (training/weight_decay.py).
      variables: the model's trainable variables; biases and normalization parameters among
        them are excluded from decay.

    Raises:
      ValueError: for an unknown name, or weight decay asked of plain Adam.
    """
    weight_decay = resolve_weight_decay(name, weight_decay)
    if name == "adam":
        if weight_decay:
            raise ValueError("adam has no weight decay; use adamw for Adam with decoupled weight decay")
        return FusedAdam(learning_rate)
    if name == "adamw":
        optimizer = FusedAdamW(learning_rate, weight_decay=weight_decay)
    elif name == "sgd":
        optimizer = FusedSGD(learning_rate, momentum=0.9, nesterov=True,
                                         weight_decay=weight_decay or None)
    else:
        raise ValueError(f"unknown optimizer {name!r}; expected one of {', '.join(OPTIMIZERS)}")
    if weight_decay:
        exclude_from_weight_decay(optimizer, variables)
    return optimizer
