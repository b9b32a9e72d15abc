"""Decoupled weight decay, and which variables it leaves alone.

Decoupled decay (Loshchilov & Hutter 2019, "Decoupled Weight Decay Regularization") shrinks a
weight outside the gradient step: w <- w - learning_rate * weight_decay * w. Keras applies it
this way for every optimizer given `weight_decay`; AdamW is Adam with it, and SGD with momentum
gets the SGDW variant. It runs inside `optimizer.apply`, so a float16 step skipped for
non-finite gradients decays nothing.

The rule for exclusion: only variables with two or more dimensions (dense and convolution
kernels, embeddings) decay. One-dimensional and scalar variables are excluded: biases, the scale
and offset of BatchNormalization and LayerNormalization, and any per-channel gain a user's layer
creates. Shrinking those toward zero does not regularize the function the network computes
(a BatchNorm scale only rescales a normalized activation), it just fights the fit.
"""

DEFAULT_WEIGHT_DECAY = {"adamw": 1e-2, "adam": 0.0, "sgd": 0.0}


def is_decayed(variable) -> bool:
    """Whether the exclusion rule above lets weight decay shrink `variable`."""
    return len(variable.shape) >= 2


def exclude_from_weight_decay(optimizer, variables):
    """Tells an unbuilt Keras optimizer to skip decay on the excluded members of `variables`.

    Args:
      optimizer: a Keras optimizer that is not built yet (not the LossScaleOptimizer wrapper:
        decay belongs to the inner optimizer).
      variables: the model's trainable variables.

    Returns:
      The excluded variables.
    """
    excluded = [variable for variable in variables if not is_decayed(variable)]
    optimizer.exclude_from_weight_decay(var_list=excluded)
    return excluded


def resolve_weight_decay(optimizer_name, weight_decay):
    """`--weight_decay`, or the optimizer's default when it is None (0.01 for adamw, else 0)."""
    return DEFAULT_WEIGHT_DECAY[optimizer_name] if weight_decay is None else weight_decay
