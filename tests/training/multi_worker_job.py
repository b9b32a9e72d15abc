"""One worker of a test's multi-worker job: `python -m training.train`, plus its final weights saved.

    python tests/training/multi_worker_job.py WEIGHTS.npz --distribution_strategy=multi_worker ...

It runs the script's own `main` (flags, validation, one-line errors, chief-only result line) and
wraps `train_and_evaluate` only to write the model's variables, in order, to WEIGHTS.npz, so a
test can check that every worker ends with the same weights.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from absl import app  # noqa: E402

from training import train, train_lib  # noqa: E402


def saving_weights(train_and_evaluate, path):
    """train_and_evaluate that also saves the final weights of this worker to `path`."""

    def run(config, **kwargs):
        import numpy as np  # pylint: disable=import-outside-toplevel

        result = train_and_evaluate(config, **kwargs)
        np.savez(path, *[variable.numpy() for variable in result.model.variables])
        return result

    return run


if __name__ == "__main__":
    weights_path = sys.argv.pop(1)
    train_lib.train_and_evaluate = saving_weights(train_lib.train_and_evaluate, weights_path)
    app.run(train.main, flags_parser=train.parse_flags_or_exit)
