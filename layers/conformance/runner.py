"""check_layer: runs the selected conformance checks on a layer; reports what ran, was skipped or failed."""

import contextlib
import logging

import tensorflow as tf

from layers.conformance.build import check_build
from layers.conformance.checkpoint import check_checkpoint
from layers.conformance.compilation import check_tf_function, check_xla
from layers.conformance.config_round_trip import check_config
from layers.conformance.distribution import check_distribution, provide_replica_devices
from layers.conformance.errors import CheckFailed, CheckSkipped, ConformanceError, Failure, describe_exception
from layers.conformance.mixed_precision import check_mixed_precision
from layers.conformance.report import FAILED, PASSED, SKIPPED, ConformanceReport, Outcome
from layers.conformance.subject import LayerUnderTest
from layers.conformance.training import check_retracing, check_training_step

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")
MIXED_PRECISIONS = ("mixed_float16", "mixed_bfloat16")

# name -> (check, the precisions it runs under; None: once, in float32). Dict order is run
# order; `build` comes first because nothing else means anything for a layer that cannot build.
CHECKS = {
    "build": (check_build, None),
    "tf_function": (check_tf_function, PRECISIONS),
    "xla": (check_xla, PRECISIONS),
    "mixed_precision": (check_mixed_precision, MIXED_PRECISIONS),
    "training_step": (check_training_step, None),
    "retracing": (check_retracing, None),
    "checkpoint": (check_checkpoint, None),
    "config": (check_config, None),
    "distribution": (check_distribution, None),
}


def check_layer(layer_factory, input_shape=None, *, checks=None, precisions=PRECISIONS, xla_precisions=None,
                input_dtype="float32", input_factory=None, output_dtype=None, seed=0):
    """Runs conformance checks on the layer `layer_factory()` builds; raises if any fails.

    Every selected check runs, so one call reports all problems (after a failed `build`, the
    rest are skipped: they would fail the same way). A check that has nothing to verify for
    this layer is skipped with its reason (no trainable variables: no `training_step`; no
    get_config of its own: no `config` round trip) and never counts as run.

    When `distribution` is selected and TensorFlow has not initialized its devices yet, the
    CPU is split into two logical devices for the rest of the process (what
    core.distribution.configure_logical_cpus(2) does); once TensorFlow is initialized with
    fewer than two devices, that check fails saying how to provide them.

    Args:
      layer_factory: zero-argument callable returning a NEW, unbuilt layer (or model) per call,
        e.g. `lambda: MyLayer(units=8)`. Checks construct it under different dtype policies.
      input_shape: the full input shape, batch included, e.g. (4, 16). The batch must be even
        for the `distribution` check. May be omitted when `input_factory` is given.
      checks: names from CHECKS to run; None runs all of them.
      precisions: the policies that precision-dependent checks (tf_function, xla,
        mixed_precision) run under; a subset of PRECISIONS.
      xla_precisions: the policies the `xla` check runs under; None means `precisions`. XLA
        compiles are the slowest part of a run (about a second per policy for a small model
        on CPU), so a large suite may compile under float32 only.
      input_dtype: "float32" (standard-normal inputs) or an integer dtype such as "int32"
        (uniform ids in [0, 10)) for layers that take token ids.
      input_factory: optional callable(seed) -> array of the input shape, replacing the default
        inputs, e.g. `lambda seed: np.random.default_rng(seed).integers(0, vocab, (4, 12))`.
      output_dtype: the output dtype promised under mixed policies; None means the compute
        dtype. Pass "float32" for a model whose logits are float32.
      seed: seed of the inputs and of the random loss projection.

    Returns:
      A ConformanceReport: `ran` names the checks that ran, `skipped` maps each skipped check
      to its reason, and each outcome says what its run verified.

    Raises:
      ConformanceError: one line per failed check, naming the check, the layer and the numbers;
        its `report` holds every outcome.
      ValueError: for an unknown check or precision name.
    """
    selected = tuple(CHECKS) if checks is None else (checks,) if isinstance(checks, str) else tuple(checks)
    xla_precisions = precisions if xla_precisions is None else xla_precisions
    unknown = sorted(set(selected) - set(CHECKS)) + sorted(set(precisions) - set(PRECISIONS))
    unknown += sorted(set(xla_precisions) - set(PRECISIONS))
    if unknown:
        raise ValueError(f"check_layer: unknown check or precision {unknown}; checks are "
                         f"{', '.join(CHECKS)}, precisions {', '.join(PRECISIONS)}")
    if "distribution" in selected:
        # First, before anything here runs an op: afterwards the CPU can no longer be split.
        provide_replica_devices()
    subject = LayerUnderTest(layer_factory, input_shape, input_dtype, input_factory, output_dtype, seed)
    with _quiet_tensorflow_warnings():
        outcomes = _run_checks(subject, selected, precisions, xla_precisions)
    report = ConformanceReport(subject.name, tuple(outcomes))
    failures = [Failure(o.check, subject.name, o.detail) for o in outcomes if o.status == FAILED]
    if failures:
        raise ConformanceError(failures, report)
    return report


def _run_checks(subject, selected, precisions, xla_precisions):
    """Runs the selected checks in CHECKS order; returns one Outcome per run."""
    outcomes = []
    for name, (check, check_precisions) in CHECKS.items():
        if name not in selected:
            continue
        chosen = xla_precisions if name == "xla" else precisions
        runs = [None] if check_precisions is None else [p for p in check_precisions if p in chosen]
        build_failed = any(o.check == "build" and o.status == FAILED for o in outcomes)
        for precision in runs:
            if build_failed:
                outcomes.append(Outcome(name, precision, SKIPPED, "the build check failed"))
            else:
                outcomes.append(_run_check(name, check, subject, precision))
    return outcomes


def _run_check(name, check, subject, precision):
    """Runs one check under `precision` (None: the check takes none); returns its Outcome.

    A check returns a description of what it verified, or raises CheckSkipped or CheckFailed.
    A check that returns nothing has verified nothing the runner can vouch for: a failure.
    """
    arguments = () if precision is None else (precision,)
    try:
        verified = check(subject, *arguments)
    except CheckSkipped as skipped:
        return Outcome(name, precision, SKIPPED, str(skipped))
    except CheckFailed as error:
        return Outcome(name, precision, FAILED, str(error))
    except Exception as error:  # The layer crashed under this check: that is the finding.
        where = f" under {precision}" if precision else ""
        return Outcome(name, precision, FAILED, f"the layer raised{where} {describe_exception(error)}")
    if not verified:
        return Outcome(name, precision, FAILED, "the check returned without saying what it verified (a bug "
                       "in the check: it must return a description or raise CheckSkipped)")
    return Outcome(name, precision, PASSED, str(verified))


@contextlib.contextmanager
def _quiet_tensorflow_warnings():
    """Silences TensorFlow's "triggered tf.function retracing" warnings while checks run: the kit
    builds a new tf.function per check on purpose and counts real retraces itself."""
    logger = tf.get_logger()
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
