"""Training from record files: a stopped run resumes bit-identically from the step alone, bad
records stop the run with one line or are skipped and counted per loop."""

import numpy as np
import pytest
import tensorflow as tf

from core.data.record_reading import BadRecordError
from tests.core.data.record_files import write_id_records
from tests.core.data.test_bad_records import BAD_RECORDS, _write_with_bad_record
from training import TrainConfig, train_and_evaluate


def _config(tmp_path, data_dir, **overrides):
    settings = dict(model="mlp", dataset="records", data_dir=str(data_dir), train_steps=8, warmup_steps=2,
                    steps_per_loop=4, eval_every=0, checkpoint_every=4, batch_size=8, augment="crop",
                    precision="float32", jit_compile="false", deterministic=True, shuffle_buffer=16,
                    model_dir=str(tmp_path / "run"))
    settings.update(overrides)
    return TrainConfig(**settings)


class _Interrupted(Exception):
    pass


def test_a_stopped_record_run_resumes_bit_identically_with_no_input_state_in_the_checkpoint(tmp_path):
    write_id_records(tmp_path / "records")
    straight = train_and_evaluate(_config(tmp_path / "a", tmp_path / "records"), log=lambda line: None)

    def crash_after_first_checkpoint(line):
        if line.startswith("Saved checkpoint") and line.endswith("ckpt-4"):
            raise _Interrupted()

    with pytest.raises(_Interrupted):
        train_and_evaluate(_config(tmp_path / "b", tmp_path / "records"), log=crash_after_first_checkpoint)
    lines = []
    resumed = train_and_evaluate(_config(tmp_path / "b", tmp_path / "records"), log=lines.append)
    assert any(line == f"Resumed from {tmp_path / 'b' / 'run' / 'ckpt-4'} at step 4" for line in lines), lines
    for a, b in zip(straight.model.variables, resumed.model.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)
    # The data position is the step: the checkpoint holds no iterator (no buffered records or images).
    saved = [name for name, _ in tf.train.list_variables(str(tmp_path / "b" / "run" / "ckpt-8"))]
    assert not any("iterator" in name for name in saved), saved


def test_bad_records_stop_the_run_with_one_line_or_are_skipped_and_counted_per_loop(tmp_path):
    # The first validation record: read once, by the check of a first batch before training starts.
    _write_with_bad_record(tmp_path / "records", "validation", BAD_RECORDS["label_out_of_range"][0], index=0)
    with pytest.raises(BadRecordError, match=r"validation-00000-of-00001: record 0 has a label outside the classes"):
        train_and_evaluate(_config(tmp_path / "a", tmp_path / "records"), log=lambda line: None)
    lines = []
    train_and_evaluate(_config(tmp_path / "b", tmp_path / "records", train_steps=4, skip_bad_records=True,
                               max_bad_records_fraction=0.05), log=lines.append)
    counted = [line for line in lines if line.startswith("step 4: input bad_records 1, records_read ")]
    assert len(counted) == 1 and int(counted[0].split()[-1]) >= 1 + 4 * 8, lines
