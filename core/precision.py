"""Numeric precision: which Keras dtype policy a run uses, and loss scaling for float16.

Under a mixed policy variables stay float32 and layers compute in the low dtype: Keras casts a
layer's floating inputs and reads its float32 variables in the compute dtype inside `call`, so a
user's layer needs no precision code. A layer that must compute in float32 (a numerically
delicate reduction, a final classifier) says so when constructed: `MyLayer(..., dtype="float32")`
gets float32 inputs and variables whatever the policy. Keras' normalization layers already
compute their statistics in float32, and the train step casts logits to float32 before the
softmax and the loss.

float16 has 5 exponent bits, so small gradients underflow to zero; dynamic loss scaling
multiplies the loss by a large factor before differentiating and divides the gradients back,
skipping any step whose gradients overflowed. bfloat16 has float32's exponent range and needs
no scaling.
"""

import contextlib

import keras

from core.devices import DeviceInfo

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16", "auto")

# Keras' defaults, stated here so the checkpointed scale is documented: start at 2**15, double
# after 2000 finite steps in a row, halve on every overflow.
INITIAL_LOSS_SCALE = 2.0**15
LOSS_SCALE_GROWTH_STEPS = 2000


def resolve_precision(precision: str, device: DeviceInfo) -> tuple[str, str]:
    """Turns a `--precision` value into a concrete policy name.

    Args:
      precision: one of PRECISIONS.
      device: the device the step runs on.

    Returns:
      (policy_name, reason): the policy and a sentence saying why it was chosen.

    Raises:
      ValueError: for a name outside PRECISIONS.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; expected one of {', '.join(PRECISIONS)}")
    if precision != "auto":
        return precision, "requested"
    if device.kind == "tpu":
        return "mixed_bfloat16", "TPUs compute natively in bfloat16"
    if device.kind == "gpu":
        major = (device.compute_capability or (0, 0))[0]
        if major >= 8:
            return "mixed_bfloat16", f"GPU compute capability {major}.x has bfloat16 tensor cores"
        if major >= 7:
            return "mixed_float16", f"GPU compute capability {major}.x has float16 tensor cores only"
        return "float32", f"GPU compute capability {major}.x has no tensor cores"
    if device.cpu_bfloat16:
        return "mixed_bfloat16", "the CPU has native bfloat16 instructions (AVX512_BF16/AMX)"
    return "float32", "the CPU has no native bfloat16 instructions"


def compute_dtype(policy_name: str) -> str:
    """The dtype layers compute in under `policy_name`."""
    return keras.mixed_precision.Policy(policy_name).compute_dtype


def needs_loss_scaling(policy_name: str) -> bool:
    return compute_dtype(policy_name) == "float16"


@contextlib.contextmanager
def precision_scope(policy_name: str):
    """Sets the global Keras dtype policy for layers built inside, restoring the old one after.

    Layers read the global policy when they are constructed, so build the model inside.
    """
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(policy_name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def wrap_for_loss_scaling(optimizer, policy_name: str, dynamic_growth_steps: int = LOSS_SCALE_GROWTH_STEPS):
    """Wraps `optimizer` in Keras' dynamic LossScaleOptimizer when the policy computes in float16.

    The train step then calls `optimizer.scale_loss(loss)` inside the tape and
    `optimizer.apply(grads)`, which unscales, skips non-finite steps (weights, slots and the
    inner optimizer's iteration count untouched) and adjusts the scale. The scale and its
    count of finite steps are the wrapper's own variables, so a checkpoint of the optimizer
    holds them.

    Args:
      optimizer: the unbuilt inner optimizer.
      policy_name: a concrete policy (not "auto").
      dynamic_growth_steps: finite steps in a row after which the scale doubles.
    """
    if not needs_loss_scaling(policy_name):
        return optimizer
    return keras.optimizers.LossScaleOptimizer(
        optimizer,
        initial_scale=INITIAL_LOSS_SCALE,
        dynamic_growth_steps=dynamic_growth_steps,
    )


def loss_scale_of(optimizer):
    """The current loss scale variable, or None when the optimizer does not scale."""
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return optimizer.dynamic_scale
    return None
