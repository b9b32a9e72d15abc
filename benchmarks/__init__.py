"""Speed, measured honestly: absl scripts that time tapecraft's training step and compare it.

  python -m benchmarks.throughput      examples/s, ms/step, compile time and MFU per configuration;
                                       --timed=train_and_evaluate times whole runs beside the step
  python -m benchmarks.compare         tapecraft's loop and whole runs vs Keras fit vs an eager loop,
                                       interleaved; --data=real feeds each as its user would
  python -m benchmarks.input_pipeline  is training input-bound? the tf.data pipeline vs the step
  python -m benchmarks.remat_cost      the language model's step with and without --remat: tokens/s
                                       and peak memory at several sequence lengths
  python -m benchmarks.chart           redraw a chart from a results file

Results go to JSON lines (schema in benchmarks/results.py) and a PNG chart; benchmarks/RESULTS.md
holds the measured tables. `benchmarks` uses `core`, `layers` and `training`; nothing imports it.
"""

import os

from core.quiet_import import import_tensorflow_quietly

# Scripts print one-line errors and tables: TensorFlow's C++ notices (oneDNN, absl start-up)
# would come first. The level is read once, at import; `python -m benchmarks.x` imports this
# package before the script.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import_tensorflow_quietly()
