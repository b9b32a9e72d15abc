"""vit_tiny and transformer_classifier, the registry, and checkpoints of models holding block lists."""

import numpy as np
import pytest
import tensorflow as tf

from core.precision import precision_scope
from layers import create_model
from layers.models import MLP, CifarResNet, SmallCNN, TransformerClassifier, VisionTransformer
from layers.models.vit import choose_patch_size


@pytest.mark.parametrize("image_shape, patch_size, tokens", [
    ((8, 8, 1), 1, 64),     # digits
    ((32, 32, 3), 4, 64),   # CIFAR-10
    ((28, 28, 1), 4, 49),   # MNIST
])
def test_vit_picks_a_patch_size_from_the_image(image_shape, patch_size, tokens):
    assert choose_patch_size(*image_shape[:2]) == patch_size
    model = VisionTransformer(num_classes=10, width=8, depth=1, num_heads=2, mlp_dim=16)
    logits = model(tf.zeros((2,) + image_shape))
    assert logits.shape == (2, 10)
    assert model.patch_embedding.patch_size == patch_size
    assert model.patch_embedding.position_embeddings.shape[0] == tokens


def test_vit_patch_size_argument_overrides_the_choice():
    model = VisionTransformer(num_classes=3, patch_size=2, width=8, depth=1, num_heads=2, mlp_dim=16)
    model(tf.zeros((1, 8, 8, 1)))
    assert model.patch_embedding.grid == (4, 4)


@pytest.mark.parametrize("policy", ["float32", "mixed_float16", "mixed_bfloat16"])
def test_models_return_float32_logits_under_every_policy(policy):
    with precision_scope(policy):
        vit = create_model("vit_tiny", num_classes=10)
        classifier = create_model("transformer_classifier", num_classes=4)
    assert vit(tf.zeros((2, 8, 8, 1))).dtype == tf.float32
    assert classifier(tf.ones((2, 5), tf.int32)).dtype == tf.float32


def _small_classifier(**kwargs):
    return TransformerClassifier(num_classes=3, vocab_size=30, max_length=8, width=8, depth=2, num_heads=2,
                                 mlp_dim=16, **kwargs)


def test_transformer_classifier_ignores_padding():
    model = _small_classifier()
    short = model(tf.constant([[5, 7, 9]])).numpy()
    padded = model(tf.constant([[5, 7, 9, 0, 0]])).numpy()
    np.testing.assert_allclose(padded, short, rtol=1e-5, atol=1e-6)
    assert np.abs(model(tf.constant([[5, 7, 9, 4, 0]])).numpy() - short).max() > 1e-5


def test_transformer_classifier_accepts_float_ids():
    model = _small_classifier()
    ids = [[29, 3, 0], [1, 2, 3]]
    from_floats = model(tf.constant(ids, tf.float32)).numpy()
    np.testing.assert_array_equal(from_floats, model(tf.constant(ids)).numpy())


def _token_states(model, ids):
    """(the per-token states [B, T, width] the model pools, i.e. final_norm's output; the logits).

    Records final_norm's output by wrapping its `call` for one forward pass: Keras runs a layer
    through `self.call`, and if a release stops doing so, `states` stays empty and this fails.
    """
    if not model.built:
        model(tf.constant(ids))  # The first call also traces the layers symbolically to build them.
    states = []
    norm = model.final_norm
    original = norm.call

    def recording_call(*args, **kwargs):
        states.append(original(*args, **kwargs))
        return states[-1]

    norm.call = recording_call
    try:
        logits = model(tf.constant(ids))
    finally:
        del norm.call
    assert len(states) == 1, "final_norm.call was not called once per forward pass"
    return states[0].numpy(), logits.numpy()


@pytest.mark.parametrize("causal", [True, False])
def test_causal_classifier_states_see_only_their_past(causal):
    model = _small_classifier(causal=causal)
    states, logits = _token_states(model, [[5, 7, 9, 4]])
    changed_states, changed_logits = _token_states(model, [[5, 7, 9, 11]])  # Only the last token differs.
    earlier = np.abs(changed_states[:, :3] - states[:, :3]).max()
    assert np.abs(changed_states[:, 3] - states[:, 3]).max() > 1e-3
    if causal:
        assert earlier <= 1e-6  # Positions 0-2 attend only to positions <= their own.
    else:
        assert earlier > 1e-3  # Without the mask, every position sees the changed token.
    # The mean pools every position, the last included, so the logits follow the change either way.
    assert np.abs(changed_logits - logits).max() > 1e-4


@pytest.mark.parametrize("factory, input_shape", [
    (lambda: MLP(3, hidden_units=(8, 8)), (1, 4, 4, 1)),
    (lambda: SmallCNN(3, widths=(4, 8)), (1, 8, 8, 1)),
    (lambda: CifarResNet(3, depth=8), (1, 8, 8, 3)),
    (lambda: VisionTransformer(3, width=8, depth=2, num_heads=2, mlp_dim=16), (1, 8, 8, 1)),
], ids=["mlp", "small_cnn", "cifar_resnet", "vit"])
def test_checkpoint_holds_every_block_of_a_model(factory, input_shape, tmp_path):
    """Keras 3 leaves layers held only in lists out of tf.train.Checkpoint; models track them."""
    model = factory()
    model(tf.zeros(input_shape))
    path = tf.train.Checkpoint(model=model).save(str(tmp_path / "model"))
    saved = [name for name, _ in tf.train.list_variables(path) if name.startswith("model/")]
    # Seed-generator states of dropout layers are integers Keras keeps out of layer checkpoints.
    assert len(saved) == len([v for v in model.variables if v.dtype == "float32"])
