"""keras.applications weight files load into tapecraft's VGG16 and ResNet-50 and give Keras' outputs.

No download: each test builds the keras.applications model with weights=None (random weights),
writes its weights in the file layouts users have, loads them into tapecraft's model and
compares outputs on the same images (tapecraft preprocesses inside the model; Keras is fed
`preprocess_input(255 * images, mode="caffe")`). Tolerance: rtol 1e-5 and atol 1e-5 times the
largest output; on this CPU the outputs are bitwise equal (oneDNN runs the same kernels).

Cost: these are full-size models on CPU, ~60-90 s in all. The ImageNet tops need 224x224
inputs, so each top is checked once, on one image; the bases use 32x32.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from layers.models import VGG16, ResNet50
from layers.pretrained_weights import PretrainedWeightsError, load_pretrained_weights
from tests.layers.keras_weight_files import copy_without_layer_names, replace_array, write_keras2_weights

KERAS_MODELS = {"vgg16": keras.applications.VGG16, "resnet50": keras.applications.ResNet50}
TAPECRAFT_MODELS = {"vgg16": VGG16, "resnet50": ResNet50}


def _images(count, size):
    return np.random.RandomState(0).uniform(0, 1, (count, size, size, 3)).astype(np.float32)


def _keras_outputs(keras_model, images):
    preprocessed = keras.applications.imagenet_utils.preprocess_input(images * 255.0, mode="caffe")
    return keras_model(preprocessed).numpy()


def _keras_base(name):
    return KERAS_MODELS[name](weights=None, include_top=False, input_shape=(32, 32, 3))


def _assert_close(ours, theirs):
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5 * np.abs(theirs).max())


def _zero_all(model):
    for variable in model.variables:
        variable.assign(tf.zeros_like(variable))


@pytest.fixture(scope="module", params=["vgg16", "resnet50"])
def base_files(request, tmp_path_factory):
    """A keras.applications base without top (32x32 input), its weights in three layouts, and our model."""
    name = request.param
    directory = tmp_path_factory.mktemp(name)
    keras_model = _keras_base(name)
    files = {"keras2.h5": directory / f"{name}_weights_tf_dim_ordering_tf_kernels_notop.h5",
             "keras3.weights.h5": directory / f"{name}_notop.weights.h5",
             "keras3_unnamed.weights.h5": directory / f"{name}_unnamed.weights.h5"}
    write_keras2_weights(keras_model, files["keras2.h5"])
    keras_model.save_weights(files["keras3.weights.h5"])
    copy_without_layer_names(files["keras3.weights.h5"], files["keras3_unnamed.weights.h5"])
    ours = TAPECRAFT_MODELS[name](num_classes=5)
    ours(_images(1, 32))
    return name, keras_model, files, ours


@pytest.mark.parametrize("layout", ["keras2.h5", "keras3.weights.h5", "keras3_unnamed.weights.h5"])
def test_base_without_top_matches_keras(base_files, layout):
    name, keras_model, files, ours = base_files
    _zero_all(ours)
    loaded = load_pretrained_weights(ours, str(files[layout]))
    assert len(loaded.loaded) == {"vgg16": 13, "resnet50": 106}[name]
    assert loaded.ignored == ()
    images = _images(2, 32)
    _assert_close(ours.extract_features(images).numpy(), _keras_outputs(keras_model, images))
    assert ours(images).shape == (2, 5)


@pytest.mark.parametrize("name,renames", [("vgg16", None), ("resnet50", {"predictions": "probs"})])
def test_model_with_imagenet_top_matches_keras(tmp_path, name, renames):
    # keras-applications 1.0 wrote ResNet-50's classifier as "probs"; the loader takes either name.
    keras_model = KERAS_MODELS[name](weights=None, include_top=True, classifier_activation=None)
    path = tmp_path / f"{name}_weights_tf_dim_ordering_tf_kernels.h5"
    write_keras2_weights(keras_model, path, renames)
    ours = TAPECRAFT_MODELS[name](num_classes=1000, include_top=True)
    images = _images(1, 224)
    ours(images)
    loaded = load_pretrained_weights(ours, str(path))
    assert loaded.loaded[-1] == "predictions"
    logits = ours(images).numpy()
    assert logits.dtype == np.float32 and logits.shape == (1, 1000)
    _assert_close(logits, _keras_outputs(keras_model, images))
    if name == "vgg16":
        notop = tmp_path / "vgg16_notop.h5"
        write_keras2_weights(_keras_base("vgg16"), notop)
        expected = f"{notop} does not match VGG16: it has no layer 'fc1' " + r"\(a _notop file has no"
        with pytest.raises(PretrainedWeightsError, match=expected):
            load_pretrained_weights(ours, str(notop))


def test_file_of_another_model_names_the_first_missing_layer(tmp_path):
    path = tmp_path / "resnet50_notop.h5"
    write_keras2_weights(_keras_base("resnet50"), path)
    vgg = VGG16(num_classes=3)
    vgg(_images(1, 32))
    expected = (f"{path} does not match VGG16: it has no layer 'block1_conv1' "
                r"\(its first layers: conv1_conv, conv1_bn, conv2_block1_1_conv\)")
    with pytest.raises(PretrainedWeightsError, match=expected):
        load_pretrained_weights(vgg, str(path))


def test_wrong_shape_names_the_layer_and_leaves_the_model_untouched(tmp_path):
    path = tmp_path / "vgg16_notop.h5"
    write_keras2_weights(_keras_base("vgg16"), path)
    replace_array(path, "block3_conv2/block3_conv2/kernel:0", np.zeros((3, 3, 128, 256), np.float32))
    vgg = VGG16(num_classes=3)
    vgg(_images(1, 32))
    before = [variable.numpy() for variable in vgg.variables]
    expected = (r"layer 'block3_conv2' kernel has shape \(3, 3, 128, 256\) in the file, "
                r"\(3, 3, 256, 256\) in the model")
    with pytest.raises(PretrainedWeightsError, match=expected):
        load_pretrained_weights(vgg, str(path))
    for value, variable in zip(before, vgg.variables):
        np.testing.assert_array_equal(value, variable.numpy())


def test_missing_and_unreadable_files_are_named(tmp_path):
    vgg = VGG16(num_classes=3)
    vgg(_images(1, 32))
    with pytest.raises(PretrainedWeightsError, match=f"weights file {tmp_path / 'absent.h5'} does not exist"):
        load_pretrained_weights(vgg, str(tmp_path / "absent.h5"))
    (tmp_path / "notes.h5").write_text("not weights")
    expected = f"cannot read weights file {tmp_path / 'notes.h5'}: not an HDF5"
    with pytest.raises(PretrainedWeightsError, match=expected):
        load_pretrained_weights(vgg, str(tmp_path / "notes.h5"))
