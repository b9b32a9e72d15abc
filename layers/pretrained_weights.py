"""Loads keras.applications weight files (ImageNet VGG16, ResNet-50...) into tapecraft's models.

A model that takes pretrained weights lists, with `pretrained_layers()`, the layers a file fills
as (keras.applications layer name, layer) in keras.applications' layer order. Two file layouts:

- legacy HDF5 `.h5`, what keras.applications downloads (vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5):
  root attribute `layer_names`; per layer a group whose attribute `weight_names` lists its
  arrays in order (kernel, bias; BatchNorm: gamma, beta, moving mean, moving variance). A
  whole-model legacy file holds the same under `model_weights`.
- Keras 3 `.weights.h5` (`model.save_weights`): `layers/<class>[_<k>]/vars/<i>`, where the k-th
  layer of a class in the model's layer order gets the suffix _k; recent Keras also stores the
  layer's name as the `name` attribute of `vars`.

Layers are matched by name, or, in a `.weights.h5` file without names, by class and position.
Every array's shape is checked before anything is assigned, so a file that does not match
leaves the model untouched and the error names the file and the first layer that differs.
"""

import dataclasses
import os

import h5py

# keras-applications 1.0 (which wrote the ResNet files on storage.googleapis.com) named ResNet's
# classifier "probs"; Keras 2.3+ calls it "predictions".
FORMER_NAMES = {"predictions": ("probs",)}
# The group name Keras 3 gives a layer of each class in a `.weights.h5` file (snake case).
CLASS_KEYS = {"Conv2D": "conv2d", "BatchNormalization": "batch_normalization", "Dense": "dense"}


class PretrainedWeightsError(ValueError):
    """A weight file is missing, unreadable, or does not fit the model; the message says which layer."""


@dataclasses.dataclass(frozen=True)
class LoadedWeights:
    """What `load_pretrained_weights` did: the layers filled, and the file's layers left unused."""

    loaded: tuple
    ignored: tuple


def load_pretrained_weights(model, path) -> LoadedWeights:
    """Fills `model.pretrained_layers()` from the keras.applications weight file at `path`.

    Args:
      model: a built model with a `pretrained_layers()` method (VGG16, ResNet50).
      path: a `.h5` or `.weights.h5` file.

    Raises:
      PretrainedWeightsError: naming the file and the first layer that is absent from it or
        whose arrays differ in number or shape from the model's.
    """
    expected = model.pretrained_layers()
    unbuilt = [name for name, layer in expected if not layer.weights]
    if unbuilt:
        raise ValueError(f"build the model (call it on a batch) before loading weights; {unbuilt[0]} has "
                         "none")
    if not os.path.isfile(path):
        raise PretrainedWeightsError(f"weights file {path} does not exist")
    try:
        handle = h5py.File(path, "r")
    except OSError as error:
        raise PretrainedWeightsError(f"cannot read weights file {path}: not an HDF5 file ({error})") from None
    with handle:
        arrays_by_layer, keyed_by_name = _arrays_by_layer(handle, path)
        keys = _lookup_keys(expected, arrays_by_layer, keyed_by_name)
        mismatch = f"weights file {path} does not match {type(model).__name__}"
        assignments = []
        for key, (name, layer) in zip(keys, expected):
            if key is None:
                raise PretrainedWeightsError(
                    f"{mismatch}: it has no layer {name!r}{_hint(name, arrays_by_layer)}")
            arrays = arrays_by_layer[key]
            if len(arrays) != len(layer.weights):
                raise PretrainedWeightsError(
                    f"{mismatch}: layer {name!r} has {len(arrays)} arrays in the file, {len(layer.weights)} "
                    "in the model")
            for array, variable in zip(arrays, layer.weights):
                if tuple(array.shape) != tuple(variable.shape):
                    raise PretrainedWeightsError(
                        f"{mismatch}: layer {name!r} {variable.name} has shape {tuple(array.shape)} in the "
                        f"file, {tuple(variable.shape)} in the model")
                assignments.append((variable, array))
        for variable, array in assignments:
            variable.assign(array[()])
    return LoadedWeights(loaded=tuple(name for name, _ in expected),
                         ignored=tuple(key for key in arrays_by_layer if key not in keys))


def _arrays_by_layer(handle, path):
    """({layer key: [h5py datasets in weight order]}, keyed_by_name) for the file's layers with weights.

    Keys are layer names, or Keras 3 class keys ("conv2d_3") when the file records no names.
    """
    whole_model = "layer_names" not in handle.attrs and "model_weights" in handle
    root = handle["model_weights"] if whole_model else handle
    if "layer_names" in root.attrs:
        arrays = {}
        for name in _strings(root.attrs["layer_names"]):
            weight_names = _strings(root[name].attrs.get("weight_names", []))
            if weight_names:
                arrays[name] = [root[name][weight_name] for weight_name in weight_names]
        return arrays, True
    if "layers" in handle:
        by_name, by_class = {}, {}
        for key, group in handle["layers"].items():
            if "vars" not in group or not len(group["vars"]):
                continue
            datasets = [group["vars"][str(index)] for index in range(len(group["vars"]))]
            by_class[key] = datasets
            name = group["vars"].attrs.get("name")
            if name is not None:
                by_name[_strings([name])[0]] = datasets
        if len(by_name) == len(by_class):
            return by_name, True
        return by_class, False
    raise PretrainedWeightsError(f"weights file {path} is neither a keras.applications .h5 file (no "
                                 "'layer_names') nor a Keras .weights.h5 file (no 'layers' group)")


def _lookup_keys(expected, arrays_by_layer, keyed_by_name):
    """The file key of each expected layer, or None when the file lacks it.

    By name (or a former name); in a file without names, the k-th layer of a class in the
    expected order is the file's `<class>_<k>`, as Keras numbers them.
    """
    keys, class_counts = [], {}
    for name, layer in expected:
        if keyed_by_name:
            candidates = (name,) + FORMER_NAMES.get(name, ())
        else:
            class_key = _class_key(layer)
            count = class_counts.get(class_key, 0)
            class_counts[class_key] = count + 1
            candidates = (class_key if count == 0 else f"{class_key}_{count}",)
        keys.append(next((key for key in candidates if key in arrays_by_layer), None))
    return keys


def _class_key(layer):
    """The file's group name for a layer's class; a subclass (FusedBatchNormalization) keeps its
    Keras base class's, since it holds the same weights."""
    for cls in type(layer).__mro__:
        if cls.__name__ in CLASS_KEYS:
            return CLASS_KEYS[cls.__name__]
    return type(layer).__name__.lower()


def _hint(name, arrays_by_layer):
    if name in ("fc1", "fc2", "predictions"):
        return " (a _notop file has no ImageNet top; build the model with include_top=False)"
    first = ", ".join(list(arrays_by_layer)[:3])
    return f" (its first layers: {first})" if first else " (it holds no weights)"


def _strings(values):
    return [value.decode("utf8") if isinstance(value, bytes) else str(value) for value in values]
