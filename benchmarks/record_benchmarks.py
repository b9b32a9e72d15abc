"""`benchmarks.input_pipeline --pipeline=records|records_memory`: the runs and their result lines.

records: the record pipeline and the image-folder pipeline over the same generated JPEGs, taking
turns (benchmarks/timing.py), tf.data limited to --cores threads; examples/s per core, and the
cores NVIDIA's ResNet-50 rate on one A100 needs at that rate.
records_memory: `training.train` from records of --num_images and of 10x as many, one process
each, and each process's peak resident memory.
"""

import os
import sys
import tempfile
import time

from benchmarks import record_pipeline, report, results, script_flags
from benchmarks.environment import describe_environment
from benchmarks.timing import Timing, measure_interleaved

BATCH_SIZE = 64
MEMORY_IMAGE_SIZE = 64  # Training resizes to this: the memory runs measure the input, not a big model.
MEMORY_BATCH_SIZE = 32


def run_record_benchmark(flags):
    for name in ("num_images", "jpeg_size", "memory_steps"):
        if flags[name].value < 1:
            sys.exit(f"error: --{name}={flags[name].value}: must be a positive integer")
    cores = flags.cores or len(os.sched_getaffinity(0))
    work_dir = flags.work_dir or tempfile.mkdtemp(prefix="record_benchmark_")
    environment = describe_environment()
    print(report.format_header(environment))
    if flags.pipeline == "records":
        records = _time_pipelines(flags, cores, work_dir, environment)
        title = f"decode + augment of {flags.jpeg_size}x{flags.jpeg_size} JPEGs, {cores} cores"
    else:
        records = _measure_memory(flags, work_dir, environment)
        title = "peak memory training from records of 1x and 10x the size"
    print(report.format_table(records))
    script_flags.write_outputs(records, title)


def _time_pipelines(flags, cores, work_dir, environment):
    from benchmarks.runners import PipelineRunner

    folder, record_dir = record_pipeline.prepare_images(work_dir, flags.num_images, flags.jpeg_size, num_shards=16)
    batch_size = min(BATCH_SIZE, flags.num_images)
    sources = {"records": record_pipeline.record_batches(record_dir, batch_size, flags.jpeg_size, "crop_flip"),
               "image_folder": record_pipeline.folder_batches(folder, batch_size, flags.jpeg_size, "crop_flip")}
    runners = {name: PipelineRunner(record_pipeline.limit_threads(dataset, cores), flags.steps_per_loop)
               for name, dataset in sources.items()}
    timings = measure_interleaved(runners, flags.repeats, flags.steps, flags.warmup_calls, log=print)
    lines = []
    for name, timing in timings.items():
        line = results.make_record(
            environment, timing, script="input_pipeline", label=f"{name} {flags.jpeg_size}px jpeg, {cores} cores",
            workload=f"imagenet_like_jpeg_{flags.jpeg_size}", variant=f"{name}_pipeline", batch_size=batch_size,
            precision="float32", jit_compile=None, steps_per_loop=flags.steps_per_loop, data=name, num_replicas=1,
            tf_data_threads=cores)
        per_core = line["examples_per_second"]["median"] / cores
        line.update(examples_per_second_per_core=per_core,
                    cores_for_resnet50_a100=record_pipeline.cores_needed(per_core))
        lines.append(line)
        print(f"{name}: {per_core:.0f} examples/s per core; {line['cores_for_resnet50_a100']} such cores feed "
              f"{record_pipeline.RESNET50_A100_IMAGES_PER_SECOND} images/s (NVIDIA's ResNet-50 on one A100, AMP + XLA)")
    ratio = lines[0]["examples_per_second"]["median"] / lines[1]["examples_per_second"]["median"]
    print(f"records / image folder: {ratio:.2f}x")
    return lines


def _measure_memory(flags, work_dir, environment):
    lines = []
    batch_size = max(1, min(MEMORY_BATCH_SIZE, flags.num_images * 8 // 10))  # The 1x training split holds 80%.
    for scale in (1, 10):
        images = flags.num_images * scale
        _, record_dir = record_pipeline.prepare_images(os.path.join(work_dir, f"x{scale}"), images,
                                                       flags.jpeg_size, num_shards=8 * scale)
        start = time.perf_counter()
        peak = record_pipeline.peak_rss_of_training(record_dir, os.path.join(work_dir, f"run_x{scale}"),
                                                    MEMORY_IMAGE_SIZE, flags.memory_steps, batch_size)
        timing = Timing(compile_seconds=0.0, repeat_seconds=[time.perf_counter() - start],
                        repeat_steps=[flags.memory_steps])
        line = results.make_record(
            environment, timing, script="input_pipeline", label=f"train from records, {images} images",
            workload=f"imagenet_like_jpeg_{flags.jpeg_size}", variant="records_memory", batch_size=batch_size,
            precision="float32", jit_compile=None, steps_per_loop=5, data="records", num_replicas=1,
            dataset_examples=images, peak_rss_mb=peak)
        lines.append(line)
        print(f"{images} images: peak RSS {peak:.0f} MB (the whole process, {flags.memory_steps} steps)")
    print(f"10x the data: {lines[1]['peak_rss_mb'] / lines[0]['peak_rss_mb']:.2f}x the peak memory")
    return lines
