"""The record pipeline benchmark at a tiny size: both pipelines decode the same JPEGs, and the
script writes its result lines (one subprocess)."""

import json
import os
import subprocess
import sys

import numpy as np

from benchmarks import record_pipeline
from benchmarks.results import validate_result

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_records_and_the_image_folder_decode_the_same_images(tmp_path):
    folder, records = record_pipeline.prepare_images(str(tmp_path), num_images=20, image_size=24, num_shards=2,
                                                     log=lambda line: None)
    from_records = next(iter(record_pipeline.record_batches(records, 4, 24, "none")))
    from_folder = next(iter(record_pipeline.folder_batches(folder, 4, 24, "none")))
    assert from_records[0].shape == from_folder[0].shape == (4, 24, 24, 3)
    # The same files decoded the same way: every record image is one of the folder's images.
    folder_images = np.concatenate([images.numpy() for images, _ in
                                    record_pipeline.folder_batches(folder, 16, 24, "none").take(2)])
    for image in from_records[0].numpy():
        assert np.abs(folder_images - image).max(axis=(1, 2, 3)).min() < 1e-5
    assert record_pipeline.cores_needed(1000.0) == 3  # 2,375 images/s at 1,000 per core.


def test_the_records_benchmark_writes_per_core_rates_and_cores_for_an_a100(tmp_path):
    output = tmp_path / "records.jsonl"
    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.input_pipeline", "--pipeline=records", "--num_images=20", "--jpeg_size=32",
         "--cores=1", "--steps=2", "--repeats=1", "--steps_per_loop=1", f"--work_dir={tmp_path / 'work'}",
         f"--output={output}", "--chart="],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert result.returncode == 0, result.stderr[-2000:]
    lines = {line["data"]: line for line in map(json.loads, output.read_text().splitlines())}
    assert set(lines) == {"records", "image_folder"}
    for line in lines.values():
        validate_result(line)
        assert line["tf_data_threads"] == 1
        assert line["examples_per_second_per_core"] == line["examples_per_second"]["median"]
        assert line["cores_for_resnet50_a100"] == record_pipeline.cores_needed(line["examples_per_second_per_core"])
    assert "records / image folder: " in result.stdout
