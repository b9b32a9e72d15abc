"""The model a Keras user writes for a workload from stock `keras.layers`: what `fit` is timed on.

tapecraft's speed comes from two places: its compiled loop, and its layers (ConvBNActivation
normalizes with TensorFlow's fused kernel, layers/fused_batch_norm.py). A user comparing
tapecraft with `model.fit` compares against the model they would write for `fit`, so
`benchmarks.compare` times Keras `fit` on these; its `*_on_tapecraft_model` variants time `fit`
on tapecraft's own model object, which isolates the loop.

Each reference has the same architecture, weight shapes, initializers and dropout as the
registered model of its workload; only the layer implementations differ. Workloads without an
entry here (ResNets, the transformer) are timed with `fit` on tapecraft's model.
"""

import keras


def reference_mlp(workload):
    """Flatten -> Dense(512, relu) -> Dense(512, relu) -> Dense(classes): the tutorial's MLP."""
    return keras.Sequential([
        keras.layers.Input(workload.input_shape),
        keras.layers.Flatten(),
        keras.layers.Dense(512, activation="relu"),
        keras.layers.Dense(512, activation="relu"),
        keras.layers.Dense(workload.num_classes, dtype="float32"),
    ], name="keras_mlp")


def reference_cifar_cnn(workload):
    """SmallCNN(widths) in stock layers: per stage two Conv2D (no bias) -> BatchNormalization ->
    ReLU, then MaxPool 2x2; GAP -> Dropout(0.2) -> Dense(classes) in float32."""
    layers = [keras.layers.Input(workload.input_shape)]
    for width in workload.model_options.get("widths", (32, 64)):  # SmallCNN's default widths.
        for _ in range(2):
            layers += [
                keras.layers.Conv2D(width, 3, padding="same", use_bias=False, kernel_initializer="he_normal"),
                keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5),
                keras.layers.ReLU(),
            ]
        layers.append(keras.layers.MaxPooling2D(2))
    layers += [keras.layers.GlobalAveragePooling2D(), keras.layers.Dropout(0.2),
               keras.layers.Dense(workload.num_classes, dtype="float32")]
    return keras.Sequential(layers, name="keras_cifar_cnn")


REFERENCES = {"mlp": reference_mlp, "cifar_cnn": reference_cifar_cnn, "digits_cnn": reference_cifar_cnn}


def has_reference(workload) -> bool:
    return workload.name in REFERENCES


def create_reference_model(workload):
    """The stock-Keras model of `workload` (call inside the precision scope).

    Raises:
      KeyError: for a workload without a reference (see `has_reference`).
    """
    return REFERENCES[workload.name](workload)
