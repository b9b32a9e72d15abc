"""The decoder-only transformer: causal, and its key/value-cache decoding equals the full forward."""

import numpy as np
import pytest
import tensorflow as tf

from core.precision import precision_scope
from layers.models import DecoderOnlyTransformer
from layers.registry import LANGUAGE_MODELS


def _model(**settings):
    return DecoderOnlyTransformer(max_length=12, width=32, depth=2, num_heads=4, seed=1, **settings)


def test_logits_at_a_position_do_not_depend_on_later_tokens():
    model = _model()
    ids = np.random.default_rng(0).integers(0, 256, (2, 12)).astype(np.int32)
    changed = ids.copy()
    changed[:, 7:] = (changed[:, 7:] + 1) % 256
    before, after = model(ids).numpy(), model(changed).numpy()
    assert before.shape == (2, 12, 256) and before.dtype == np.float32
    np.testing.assert_array_equal(before[:, :7], after[:, :7])
    assert np.abs(before[:, 7:] - after[:, 7:]).max() > 1e-3


@pytest.mark.parametrize("policy, tolerance", [("float32", 2e-5), ("mixed_bfloat16", 0.1)])
def test_decoding_with_the_cache_gives_the_full_forwards_logits_at_every_position(policy, tolerance):
    with precision_scope(policy):
        model = _model()
        ids = np.random.default_rng(1).integers(0, 256, (3, 12)).astype(np.int32)
        full = model(ids).numpy()
        cache = model.new_cache(3)
        assert cache[0][0].shape == (3, 4, 12, 8)
        decode = tf.function(model.decode)  # As the sampler runs it: one trace for every position.
        for position in range(12):
            logits, cache = decode(ids[:, position:position + 1], tf.constant(position), cache)
            np.testing.assert_allclose(logits.numpy(), full[:, position], atol=tolerance, rtol=0)
        assert len(decode.get_concrete_function(ids[:, :1], tf.constant(0), cache).graph.get_operations()) > 0
        assert decode.experimental_get_tracing_count() == 1


def test_registered_sizes_have_the_weight_counts_the_registry_states():
    stated = {"lm_tiny": 0.15e6, "lm_small": 0.89e6, "lm_medium": 4.9e6, "lm_large": 25.6e6}  # layers/registry.py
    assert set(stated) == set(LANGUAGE_MODELS)
    for name, constructor in LANGUAGE_MODELS.items():
        model = constructor(vocab_size=256, max_length=256)
        assert model(np.zeros((1, 16), np.int32)).shape == (1, 16, 256), name
        assert abs(model.count_params() - stated[name]) < 0.01 * stated[name], (name, model.count_params())
