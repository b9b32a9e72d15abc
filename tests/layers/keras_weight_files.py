"""Weight files as keras.applications ships them, written from randomly initialized Keras models.

keras.applications downloads legacy HDF5 files written by Keras 2: a root attribute `layer_names`,
one group per layer with an attribute `weight_names` ("block1_conv1/kernel:0", ...). Keras 3 no
longer writes that layout through a public API, so the tests write it here with h5py.
"""

import shutil

import h5py


def write_keras2_weights(keras_model, path, renames=None):
    """Writes `keras_model`'s weights in the keras.applications download layout.

    Args:
      keras_model: a built Keras model (e.g. keras.applications.VGG16(weights=None)).
      path: the `.h5` file to write.
      renames: {layer name in the model: name in the file}, e.g. {"predictions": "probs"}.
    """
    renames = renames or {}
    with h5py.File(path, "w") as handle:
        names = [renames.get(layer.name, layer.name) for layer in keras_model.layers]
        handle.attrs["layer_names"] = [name.encode() for name in names]
        handle.attrs["backend"] = b"tensorflow"
        handle.attrs["keras_version"] = b"2.2.4"
        for name, layer in zip(names, keras_model.layers):
            group = handle.create_group(name)
            weight_names = [f"{name}/{weight.name}:0" for weight in layer.weights]
            group.attrs["weight_names"] = [weight_name.encode() for weight_name in weight_names]
            for weight_name, weight in zip(weight_names, layer.weights):
                group.create_dataset(weight_name, data=weight.numpy())


def copy_without_layer_names(source, destination):
    """Copies a Keras 3 `.weights.h5` file, dropping the layer names older Keras 3 did not write."""
    shutil.copyfile(source, destination)
    with h5py.File(destination, "r+") as handle:
        for group in handle["layers"].values():
            if "vars" in group and "name" in group["vars"].attrs:
                del group["vars"].attrs["name"]


def replace_array(path, dataset_path, array):
    """Overwrites one array of an HDF5 file with `array` (of any shape)."""
    with h5py.File(path, "r+") as handle:
        del handle[dataset_path]
        handle.create_dataset(dataset_path, data=array)
