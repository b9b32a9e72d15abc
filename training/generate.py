"""Sample text from a language model a training run made.

  python -m training.generate --model_dir=runs/lm --prompt="def " --max_bytes=200
  python -m training.generate --model_dir=runs/lm --prompt="import " --temperature=0.7 --top_k=40 --seed=3

prints the prompt followed by `--max_bytes` sampled bytes (decoded as UTF-8; a character cut by
the byte limit shows as U+FFFD). The weights are the newest checkpoint's (or --checkpoint's),
with their moving average when the run kept one; each byte reuses the earlier positions' keys
and values (training/tasks/byte_sampler.py).
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # As in training.train: no C++ log lines.

from absl import app, flags, logging  # noqa: E402

from core.flag_parsing import parse_flags_or_exit  # noqa: E402

flags.DEFINE_string("model_dir", None, "The run directory of `python -m training.train --task=language_model`.")
flags.DEFINE_string("checkpoint", "", "A checkpoint prefix in it, e.g. <model_dir>/ckpt-1200 (empty: the newest).")
flags.DEFINE_string("prompt", "", "The text to continue (UTF-8; at most the model's --sequence_length bytes).")
flags.DEFINE_integer("max_bytes", 200, "Bytes to generate.")
flags.DEFINE_float("temperature", 1.0, "Divides the logits before sampling: below 1 sharper, 0 always the most "
                   "likely byte.")
flags.DEFINE_integer("top_k", 0, "Sample among the k most likely bytes only (0: all 256).")
flags.DEFINE_integer("seed", 0, "Seed of the draws: the same seed and weights give the same text.")

FLAGS = flags.FLAGS


def main(argv):
    logging.set_verbosity(logging.WARNING)
    if len(argv) > 1:
        sys.exit(f"error: unexpected arguments {' '.join(argv[1:])!r}; every setting is a --flag")
    if not FLAGS.model_dir:
        sys.exit("error: --model_dir='': give the run directory of a language-model training run")
    if not 1 <= FLAGS.max_bytes <= 1_000_000:
        sys.exit(f"error: --max_bytes={FLAGS.max_bytes}: must be from 1 to 1000000")
    if not 0 <= FLAGS.temperature <= 100:
        sys.exit(f"error: --temperature={FLAGS.temperature}: must be from 0 (greedy) to 100")
    if not 0 <= FLAGS.top_k <= 256:
        sys.exit(f"error: --top_k={FLAGS.top_k}: must be from 0 (all bytes) to 256")
    if FLAGS.seed < 0:
        sys.exit(f"error: --seed={FLAGS.seed}: must be >= 0")
    # pylint: disable=import-outside-toplevel  # TensorFlow loads after the flags are checked.
    from training.tasks.byte_sampler import ByteSampler
    from training.tasks.trained_language_model import (TrainedModelError, language_model_run_config,
                                                       load_trained_language_model)

    prompt = FLAGS.prompt.encode("utf-8")
    try:
        context = language_model_run_config(FLAGS.model_dir).sequence_length
        if len(prompt) > context:  # Before the model is built: a typo costs no wait.
            sys.exit(f"error: --prompt has {len(prompt)} bytes; the model's context is {context} "
                     "(its --sequence_length): shorten the prompt")
        config, model = load_trained_language_model(FLAGS.model_dir, FLAGS.checkpoint)
    except TrainedModelError as error:
        sys.exit(f"error: {error}")
    continuation = ByteSampler(model, config.sequence_length).sample(prompt, FLAGS.max_bytes, FLAGS.temperature,
                                                                     FLAGS.top_k, FLAGS.seed)
    print((prompt + continuation).decode("utf-8", errors="replace"))


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags_or_exit)
