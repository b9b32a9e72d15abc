"""One worker of a test's multi-worker job: `python -m training.train`, plus its final weights saved.

    python tests/training/multi_worker_job.py WEIGHTS.npz --distribution_strategy=multi_worker ...

It runs the script's own `main` (flags, validation, one-line errors, chief-only result line) and
wraps `run_training` only to write the model's variables, in order, to WEIGHTS.npz, so a test
can check that every worker ends with the same weights.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from absl import app  # noqa: E402

from training import run, train  # noqa: E402


def saving_weights(run_training, path):
    """run_training that also saves the final weights of this worker to `path`."""

    def run_and_save(config, **kwargs):
        import numpy as np  # pylint: disable=import-outside-toplevel

        result = run_training(config, **kwargs)
        np.savez(path, *[variable.numpy() for variable in result.training.model.variables])
        return result

    return run_and_save


if __name__ == "__main__":
    weights_path = sys.argv.pop(1)
    run.run_training = saving_weights(run.run_training, weights_path)
    app.run(train.main, flags_parser=train.parse_flags_or_exit)
