"""The order-2 count model the language model is measured against: a proper distribution, and the
figure its formula gives."""

import math

import numpy as np

from training.tasks.byte_ngram_baseline import bits_per_byte, fit_order2, probabilities


def _probability(model, text):
    """P(last byte | the two before) for a 3-byte text, through bits_per_byte."""
    return 2 ** -bits_per_byte(model, np.frombuffer(text, np.uint8))


def test_next_byte_probabilities_sum_to_one_after_seen_and_unseen_contexts():
    model = fit_order2(np.frombuffer(b"abracadabra abracadabra, cabaret", np.uint8))
    for context in (b"ab", b"ra", b"a ", b"zz", b"bz"):  # Seen with several successors, one, none.
        every_byte = probabilities(model, context[0], context[1], np.arange(256))
        assert math.isclose(every_byte.sum(), 1.0, rel_tol=1e-9), context
        assert every_byte.min() > 0


def test_the_probability_is_the_interpolated_absolute_discounting_formula():
    text = b"abcabcabd"
    model = fit_order2(np.frombuffer(text, np.uint8))
    discount2, discount3 = model.discounts
    unigram_c = (text.count(b"c") + 1) / (len(text) + 256)
    # After "b": c twice, d once (3 bigrams, 2 distinct); after "ab": c twice, d once.
    p_bigram = (2 - discount2) / 3 + discount2 * 2 / 3 * unigram_c
    p_trigram = (2 - discount3) / 3 + discount3 * 2 / 3 * p_bigram
    assert math.isclose(_probability(model, b"abc"), p_trigram, rel_tol=1e-12)


def test_a_repetitive_text_costs_few_bits_and_random_bytes_cost_about_eight():
    rng = np.random.default_rng(0)
    repetitive = np.frombuffer(b"the cat sat on the mat. " * 400, np.uint8)
    assert bits_per_byte(fit_order2(repetitive[:5000]), repetitive[5000:]) < 0.5
    noise = rng.integers(0, 256, 200_000).astype(np.uint8)
    assert 7.9 < bits_per_byte(fit_order2(noise[:150_000]), noise[150_000:]) < 8.5
