"""FLOPs counted from the step's HLO equal the matrix work derived by hand."""

import keras
import numpy as np
import tensorflow as tf

from core.flops import hlo_flops, step_flops
from layers.models import MLP, SmallCNN
from training.metrics import TaskMetrics
from training.tasks.image_classification import ImageClassification
from training.step import make_train_step

CLASSIFICATION = ImageClassification()  # Its loss and accuracy; no data or model is built.


def test_dense_layer_step_is_three_matmuls():
    # Forward x @ W, and the two gradient matmuls dy @ W^T and x^T @ dy: 3 x 2mnk.
    m, k, n = 32, 48, 24
    layer = keras.layers.Dense(n, use_bias=False)
    layer.build((None, k))

    def step(inputs):
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            outputs = layer(inputs)
            loss = tf.reduce_sum(outputs * outputs)  # Elementwise: not counted.
        input_gradient, kernel_gradient = tape.gradient(loss, [inputs, layer.kernel])
        layer.kernel.assign_sub(0.01 * kernel_gradient)
        return input_gradient

    # The count is exact; 0.1% leaves room only for a future change of rounding, not of terms.
    np.testing.assert_allclose(step_flops(step, tf.ones((m, k))), 3 * 2 * m * n * k, rtol=1e-3)


def _tapecraft_step(model, input_shape, batch_size):
    model(tf.zeros((1,) + input_shape))
    optimizer = keras.optimizers.Adam()
    optimizer.build(model.trainable_variables)
    step = make_train_step(CLASSIFICATION, model, optimizer, TaskMetrics("test", CLASSIFICATION), batch_size)
    batch = (tf.zeros((batch_size,) + input_shape), tf.zeros((batch_size,), tf.int32))
    return step, batch, optimizer


def test_tapecraft_mlp_step_skips_the_gradient_of_the_images():
    batch, pixels, hidden, classes = 8, 16, 16, 10
    step, inputs, optimizer = _tapecraft_step(MLP(classes, hidden_units=(hidden,)), (4, 4, 1), batch)
    # First layer: forward + kernel gradient (no gradient flows into the images): 2 matmuls.
    # Classifier: forward + both gradients: 3 matmuls.
    expected = 2 * (2 * batch * pixels * hidden) + 3 * (2 * batch * hidden * classes)
    assert step_flops(step, inputs) == expected
    assert int(optimizer.iterations) == 0  # Counting compiles nothing and runs nothing.


def test_convolution_counts_only_taps_inside_the_image():
    # Two 3x3 "same" convolutions on 8x8: along each axis 8 positions x 3 taps = 24 pairs,
    # minus the 2 that fall on padding, so 22 x 22 = 484 taps per (batch, in, out) triple.
    step, inputs, _ = _tapecraft_step(SmallCNN(10, widths=(8,), dropout=0.0), (8, 8, 3), 4)
    taps, batch = 22 * 22, 4
    first, second = 2 * batch * 3 * 8 * taps, 2 * batch * 8 * 8 * taps
    classifier = 2 * batch * 8 * 10
    # First conv: forward + filter gradient; second: forward + filter + input gradients.
    assert step_flops(step, inputs) == 2 * first + 3 * second + 3 * classifier


def test_strided_valid_convolution():
    kernel = tf.ones((3, 3, 2, 5))
    convolve = lambda images: tf.nn.conv2d(images, kernel, strides=2, padding="VALID")  # noqa: E731
    flops = step_flops(convolve, tf.ones((1, 9, 9, 2)))
    assert flops == 2 * 1 * 2 * 5 * (4 * 4) * (3 * 3)  # 4x4 outputs, every tap inside the image.


def test_results_nothing_uses_are_not_counted():
    module = """HloModule example
ENTRY %main (a: f32[2,3], b: f32[3,4]) -> f32[2,4] {
  %a = f32[2,3]{1,0} parameter(0)
  %b = f32[3,4]{1,0} parameter(1)
  %unused = f32[2,4]{1,0} dot(f32[2,3]{1,0} %a, f32[3,4]{1,0} %b), lhs_contracting_dims={1}
  ROOT %used = f32[2,4]{1,0} dot(f32[2,3]{1,0} %a, f32[3,4]{1,0} %b), lhs_contracting_dims={1}
}
"""
    assert hlo_flops(module) == 2 * 2 * 4 * 3
