"""The language model's evaluation report: held-out figures beside the order-2 count model's,
and a few samples.

Written to <model_dir>/language_model_report.json:
  {"test": {"loss", "bits_per_byte", "perplexity", "accuracy", "bytes"},
   "order2_baseline": {"bits_per_byte"}, "samples": [{"prompt", "continuation"}, ...]}
The test split is read as training reads text: windows of --sequence_length bytes, each byte
predicted from the bytes before it in its window.
"""

import json
import math
import os

import numpy as np
import tensorflow as tf

from core.atomic_files import write_atomically
from core.data.byte_windows import evaluation_windows
from training.tasks.byte_ngram_baseline import bits_per_byte, fit_order2
from training.tasks.byte_sampler import ByteSampler

REPORT_FILE = "language_model_report.json"
SAMPLES = 3
PROMPT_BYTES = 24
SAMPLE_BYTES = 200
SAMPLE_TEMPERATURE = 0.8


def report(task, model, model_dir, log) -> dict:
    """Evaluates `model` on the task's test text, compares it with the order-2 model, samples."""
    config, corpus = task.config, task.corpus
    test = held_out_figures(model, corpus.test, config.sequence_length, config.batch_size)
    baseline = bits_per_byte(fit_order2(corpus.train), corpus.test)
    sampler = ByteSampler(model, config.sequence_length)
    prompts = sample_prompts(corpus.test, min(PROMPT_BYTES, config.sequence_length // 2))
    samples = [{"prompt": prompt.decode("utf-8"),
                "continuation": sampler.sample(prompt, SAMPLE_BYTES, SAMPLE_TEMPERATURE, seed=config.seed + index)
                .decode("utf-8", errors="replace")}
               for index, prompt in enumerate(prompts)]
    result = {"test": test, "order2_baseline": {"bits_per_byte": baseline}, "samples": samples}
    log(f"Test text ({test['bytes']:,} bytes): {test['bits_per_byte']:.4f} bits per byte, perplexity "
        f"{test['perplexity']:.3f}, next-byte accuracy {test['accuracy']:.4f}; the order-2 count model "
        f"(interpolated absolute discounting, same training text): {baseline:.4f} bits per byte")
    for sample in samples:
        log(f"Sample (temperature {SAMPLE_TEMPERATURE}) after {sample['prompt']!r}: {sample['continuation']!r}")
    path = os.path.join(model_dir, REPORT_FILE)
    os.makedirs(model_dir, exist_ok=True)
    write_atomically(path, lambda temporary: _dump(result, temporary))
    log(f"Wrote {path}")
    return result


def held_out_figures(model, text: np.ndarray, sequence_length: int, batch_size: int) -> dict:
    """Loss (nats per byte), bits per byte, perplexity and next-byte accuracy of `model` on the
    windows of `text`."""

    @tf.function
    def losses(windows):
        ids = tf.cast(windows, tf.int32)
        logits = tf.cast(model(ids[:, :-1], training=False), tf.float32)
        token_loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=ids[:, 1:], logits=logits)
        correct = tf.equal(tf.argmax(logits, axis=-1, output_type=tf.int32), ids[:, 1:])
        return tf.reduce_sum(token_loss), tf.reduce_sum(tf.cast(correct, tf.float32)), tf.size(token_loss)

    total_loss = total_correct = count = 0.0
    for windows in evaluation_windows(text, sequence_length, batch_size):
        loss, correct, size = losses(windows)
        total_loss, total_correct, count = total_loss + float(loss), total_correct + float(correct), count + int(size)
    loss = total_loss / count
    return {"loss": loss, "bits_per_byte": loss / math.log(2.0), "perplexity": math.exp(loss),
            "accuracy": total_correct / count, "bytes": int(count)}


def sample_prompts(text: np.ndarray, length: int = PROMPT_BYTES) -> list:
    """SAMPLES prompts of up to `length` bytes from the start of lines spread over `text`, cut to
    whole UTF-8 characters."""
    data = bytes(text)
    prompts = []
    for index in range(SAMPLES):
        start, line = data.find(b"\n", len(data) * index // SAMPLES) + 1, b""
        while start and not line.strip():  # The next line with something on it.
            line = data[start:start + length].split(b"\n")[0].split(b"\x1c")[0]
            start = data.find(b"\n", start) + 1
        prompt = line.decode("utf-8", errors="ignore").encode("utf-8")
        prompts.append(prompt or b"\n")
    return prompts


def _dump(result, path):
    with open(path, "w", encoding="utf-8") as file:
        json.dump(result, file, indent=1, ensure_ascii=False)
