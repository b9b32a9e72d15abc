"""Freezing a pretrained base for transfer learning, and unfreezing its top blocks to fine-tune.

A model with a pretrained base lists its blocks with `base_blocks()` -> [(name, layer)] in
forward order (VGG16: block1..block5; ResNet50: conv1, conv2_block1 .. conv5_block3). A frozen
layer has `trainable = False`: its variables leave `model.trainable_variables`, and Keras'
BatchNormalization then runs in inference mode (moving statistics, never updated) even when
called with `training=True`. Unfrozen blocks keep their BatchNorm layers frozen, as the Keras
transfer-learning guide advises: the batch statistics of a small new dataset would replace the
ImageNet statistics that the following layers were trained on.
"""

import keras


def has_pretrained_base(model) -> bool:
    return callable(getattr(model, "base_blocks", None))


def resolve_block_index(block_names, block) -> int:
    """The position in `block_names` that `--unfreeze_from=block` names.

    Args:
      block_names: the base's block names in forward order.
      block: a block name ("block5", "conv5_block1"), a stage name that names its first block
        ("conv5" = "conv5_block1"), or an integer index, negative from the end ("-1": the last).

    Raises:
      ValueError: saying what the base's blocks are.
    """
    names = list(block_names)
    text = str(block).strip()
    if text in names:
        return names.index(text)
    if f"{text}_block1" in names:
        return names.index(f"{text}_block1")
    try:
        index = int(text)
    except ValueError:
        index = None
    if index is not None and -len(names) <= index < len(names):
        return index % len(names)
    raise ValueError(f"must be one of the base's blocks ({', '.join(names)}) or an index from "
                     f"{-len(names)} to {len(names) - 1}")


def freeze_base(model):
    """Makes every block of the pretrained base non-trainable; the head stays trainable."""
    for _, block in model.base_blocks():
        block.trainable = False


def unfreeze_base_from(model, block) -> list:
    """Makes the base trainable from `block` (see `resolve_block_index`) to its end, BatchNorm excepted.

    Blocks before it stay as they are (frozen after `freeze_base`).

    Returns:
      The names of the blocks made trainable.
    """
    blocks = model.base_blocks()
    start = resolve_block_index([name for name, _ in blocks], block)
    for _, layer in blocks[start:]:
        layer.trainable = True
        # Keras has no public walk over a layer's nested sublayers; `Model.layers` uses this one.
        for sublayer in layer._flatten_layers():  # pylint: disable=protected-access
            if isinstance(sublayer, keras.layers.BatchNormalization):
                sublayer.trainable = False
    return [name for name, _ in blocks[start:]]
