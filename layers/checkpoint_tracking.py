"""Makes layers held in Python lists visible to `tf.train.Checkpoint`.

Keras 3 tracks a list of layers for its own weight saving, but not as a TensorFlow checkpoint
dependency: `tf.train.Checkpoint(model=model)` silently leaves out every variable of the
layers in `self.blocks = [...]` (keras-team/keras#19425), and restores report nothing missing.
Assigning each layer to an attribute as well makes it a named dependency; Keras still counts
each variable once.
"""


def track_layers(owner, layers):
    """Assigns each of `layers` to `owner` under its name (e.g. `owner.block0`); returns `layers`.

    Args:
      owner: the layer or model holding the list, called from its `__init__` or `build`.
      layers: layers with names unique within `owner`.

    Raises:
      ValueError: when a name is already an attribute of `owner` holding something else.
    """
    for layer in layers:
        existing = getattr(owner, layer.name, None)
        if existing is not None and existing is not layer:
            raise ValueError(f"{type(owner).__name__} already has an attribute {layer.name!r}; "
                             "rename the layer")
        setattr(owner, layer.name, layer)
    return layers
