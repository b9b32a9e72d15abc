"""Learning-rate schedules: values at chosen steps, read at the optimizer's applied-update count."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from training.schedules import WarmupSchedule

PEAK, WARMUP, TOTAL = 0.4, 100, 1100  # 1000 steps after warmup.

EXPECTED = {
    # step: value; the warmup is the same for every schedule.
    "cosine": {0: 0.0, 50: 0.2, 100: 0.4, 600: 0.2, 350: 0.2 * (1 + np.cos(np.pi / 4)), 1100: 0.0, 5000: 0.0},
    "step": {0: 0.0, 50: 0.2, 100: 0.4, 599: 0.4, 600: 0.04, 849: 0.04, 850: 0.004, 1100: 0.004, 5000: 0.004},
    "constant": {0: 0.0, 50: 0.2, 100: 0.4, 600: 0.4, 1100: 0.4, 5000: 0.4},
}


@pytest.mark.parametrize("decay", sorted(EXPECTED))
def test_schedule_values_at_chosen_steps(decay):
    schedule = WarmupSchedule(decay, PEAK, WARMUP, TOTAL)
    for step, expected in EXPECTED[decay].items():
        np.testing.assert_allclose(float(schedule(step)), expected, rtol=1e-6, atol=1e-7,
                                   err_msg=f"step {step}")


def test_no_warmup_starts_at_the_peak():
    assert float(WarmupSchedule("constant", PEAK, 0, TOTAL)(0)) == pytest.approx(PEAK)
    assert float(WarmupSchedule("cosine", PEAK, 0, TOTAL)(0)) == pytest.approx(PEAK)


def test_the_optimizer_reads_the_schedule_at_its_applied_update_count():
    optimizer = keras.optimizers.SGD(WarmupSchedule("step", PEAK, WARMUP, TOTAL))
    variable = tf.Variable(1.0)
    optimizer.build([variable])
    for _ in range(50):
        optimizer.apply([tf.constant(0.0)], [variable])
    assert int(optimizer.iterations) == 50
    assert float(optimizer.learning_rate) == pytest.approx(0.2)


def test_an_unknown_schedule_is_refused():
    with pytest.raises(ValueError, match="unknown learning-rate schedule 'linear'"):
        WarmupSchedule("linear", PEAK, WARMUP, TOTAL)
