"""The yardstick a byte-level language model must beat: an order-2 count model (each byte
predicted from the two before it), interpolated absolute discounting (Ney, Essen & Kneser 1994):

  P(c | a b) = max(C(abc) - D3, 0) / C(ab.) + D3 * N1+(ab.) / C(ab.) * P(c | b)
  P(c | b)   = max(C(bc) - D2, 0) / C(b.)   + D2 * N1+(b.) / C(b.)   * P(c)
  P(c)       = (C(c) + 1) / (N + 256)

C are counts in the training text, N1+(ab.) the number of distinct bytes seen after "ab", and a
context never seen falls back to the next order wholly. Each discount is Ney's estimate
D = n1 / (n1 + 2 n2) from the counts of n-grams seen once (n1) and twice (n2). The tables are
256^3 counts (128 MB as int64) for the trigrams.
"""

import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class Order2ByteModel:
    trigrams: np.ndarray  # [65536, 256]: C(abc) at [a * 256 + b, c].
    bigrams: np.ndarray  # [256, 256]: C(bc).
    unigram: np.ndarray  # [256]: P(c), add-one smoothed.
    discounts: tuple  # (D2, D3).
    # Per context: C(ab.), N1+(ab.) [65536] and C(b.), N1+(b.) [256].
    trigram_totals: np.ndarray
    trigram_distinct: np.ndarray
    bigram_totals: np.ndarray
    bigram_distinct: np.ndarray


def _discount(counts: np.ndarray) -> float:
    once, twice = np.count_nonzero(counts == 1), np.count_nonzero(counts == 2)
    return float(once / (once + 2 * twice)) if once else 0.5


def fit_order2(text: np.ndarray) -> Order2ByteModel:
    """Counts the uint8 `text`'s unigrams, bigrams and trigrams."""
    text = np.asarray(text, dtype=np.int64)
    trigrams = np.bincount((text[:-2] << 16) | (text[1:-1] << 8) | text[2:], minlength=1 << 24).reshape(1 << 16, 256)
    bigrams = np.bincount((text[:-1] << 8) | text[1:], minlength=1 << 16).reshape(256, 256)
    unigram = (np.bincount(text, minlength=256) + 1.0) / (len(text) + 256.0)
    return Order2ByteModel(trigrams, bigrams, unigram, (_discount(bigrams), _discount(trigrams)),
                           trigrams.sum(axis=1), np.count_nonzero(trigrams, axis=1),
                           bigrams.sum(axis=1), np.count_nonzero(bigrams, axis=1))


def _interpolate(total, distinct, count, discount, lower):
    """One order's probability of each target given its context's counts, where the context was
    seen; `lower` where it was not."""
    safe_total = np.maximum(total, 1)
    probability = np.maximum(count - discount, 0) / safe_total + discount * distinct / safe_total * lower
    return np.where(total > 0, probability, lower)


def probabilities(model: Order2ByteModel, a, b, c) -> np.ndarray:
    """P(c | a b) for integer arrays (or scalars) a, b, c of bytes."""
    a, b, c = (np.asarray(x, dtype=np.int64) for x in (a, b, c))
    discount2, discount3 = model.discounts
    p2 = _interpolate(model.bigram_totals[b], model.bigram_distinct[b], model.bigrams[b, c], discount2,
                      model.unigram[c])
    contexts = (a << 8) | b
    return _interpolate(model.trigram_totals[contexts], model.trigram_distinct[contexts],
                        model.trigrams[contexts, c], discount3, p2)


def bits_per_byte(model: Order2ByteModel, text: np.ndarray) -> float:
    """Mean -log2 P(byte | two bytes before) over the uint8 `text` (its first two bytes excluded)."""
    text = np.asarray(text, dtype=np.int64)
    return float(-np.mean(np.log2(probabilities(model, text[:-2], text[1:-1], text[2:]))))
