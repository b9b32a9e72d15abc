"""The record pipeline measured: decode + augment examples/s per CPU core, and peak memory.

`benchmarks.input_pipeline --pipeline=records` and `--pipeline=records_memory` call these. The
images are ImageNet-like JPEGs generated here (nothing is downloaded): smooth random color fields
with fine noise, which compress like photographs (tens of KB at 224x224 rather than a few KB
for flat colors or hundreds for pure noise), in class subfolders; the same files are converted
to records, so both pipelines decode the same bytes.
"""

import os
import subprocess
import sys

import numpy as np
import tensorflow as tf

from core.data.augmentation import create_example_augmentation
from core.data.image_files import decode_image
from core.data.image_folder import list_images
from core.data.record_conversion import convert
from core.data.record_splits import IMAGENET_NORMALIZATION, RecordData

# NVIDIA's published ResNet-50 v1.5 training rate on one A100 80GB with AMP + XLA (TensorFlow,
# DeepLearningExamples' performance table), the rate an input pipeline must keep up with.
RESNET50_A100_IMAGES_PER_SECOND = 2375
NUM_CLASSES = 10
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_jpeg_folder(directory, num_images: int, image_size: int, seed: int = 0):
    """Writes `num_images` JPEGs of image_size x image_size in NUM_CLASSES class subfolders."""
    rng = np.random.RandomState(seed)
    for index in range(num_images):
        folder = os.path.join(directory, f"class{index % NUM_CLASSES}")
        os.makedirs(folder, exist_ok=True)
        coarse = rng.uniform(0, 255, size=(1, image_size // 16 + 1, image_size // 16 + 1, 3)).astype(np.float32)
        image = tf.image.resize(coarse, (image_size, image_size), method="bicubic")[0]
        image += rng.normal(0, 12, size=(image_size, image_size, 3)).astype(np.float32)
        encoded = tf.io.encode_jpeg(tf.cast(tf.clip_by_value(image, 0, 255), tf.uint8), quality=90)
        tf.io.write_file(os.path.join(folder, f"{index:07d}.jpg"), encoded)


def limit_threads(dataset, cores: int):
    """`dataset` with tf.data's private thread pool of `cores` threads (the per-core denominator)."""
    options = tf.data.Options()
    options.threading.private_threadpool_size = cores
    options.threading.max_intra_op_parallelism = 1
    return dataset.with_options(options)


def record_batches(record_dir, batch_size: int, image_size: int, augment: str):
    """Training batches of `--dataset=records` as train_and_evaluate reads them."""
    data = RecordData(record_dir, image_size=image_size)
    return data.training_batches(batch_size, seed=0, augment=augment)


def folder_batches(folder, batch_size: int, image_size: int, augment: str):
    """The same work from the image files: read, decode, resize, normalize, augment, batch."""
    paths, labels, _ = list_images(folder)
    shape = (image_size, image_size, 3)
    augment_example = create_example_augmentation(augment, shape)
    mean = np.asarray(IMAGENET_NORMALIZATION.mean, np.float32)
    std = np.asarray(IMAGENET_NORMALIZATION.std, np.float32)

    def load(position, path, label):
        image = tf.image.resize(decode_image(tf.io.read_file(path), 3), (image_size, image_size), antialias=True)
        image = (tf.ensure_shape(image, shape) / 255.0 - mean) / std
        if augment_example is not None:
            return augment_example(position, (image, label), 0)
        return image, label

    files = tf.data.Dataset.from_tensor_slices((paths, np.asarray(labels, np.int32)))
    files = files.shuffle(len(paths), seed=0).repeat().enumerate()
    examples = files.map(lambda position, file: load(position, *file), num_parallel_calls=tf.data.AUTOTUNE)
    return examples.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def prepare_images(work_dir, num_images: int, image_size: int, num_shards: int, log=print):
    """(image folder, record directory) of `num_images` generated JPEGs, made once per work_dir."""
    folder, records = os.path.join(work_dir, "images"), os.path.join(work_dir, "records")
    if not os.path.exists(os.path.join(records, "records_metadata.json")):
        log(f"Writing {num_images} {image_size}x{image_size} JPEGs and their records to {work_dir}")
        write_jpeg_folder(folder, num_images, image_size)
        convert("image_folder", folder, records, num_shards, image_size, log=lambda line: None)
    return folder, records


def cores_needed(per_core_rate: float) -> int:
    """CPU cores of this kind that decode + augment RESNET50_A100_IMAGES_PER_SECOND images/s."""
    return int(np.ceil(RESNET50_A100_IMAGES_PER_SECOND / per_core_rate))


def peak_rss_of_training(record_dir, model_dir, image_size: int, train_steps: int, batch_size: int) -> float:
    """Peak resident memory (MB) of a `training.train` process training from `record_dir`."""
    command = [sys.executable, "-m", "training.train", "--dataset=records", f"--data_dir={record_dir}",
               "--model=small_cnn", f"--image_size={image_size}", f"--train_steps={train_steps}",
               f"--batch_size={batch_size}", "--warmup_steps=1", "--steps_per_loop=5", "--eval_every=0",
               "--checkpoint_every=0", "--noexport", "--augment=crop_flip", "--shuffle_buffer=1000",
               f"--model_dir={model_dir}"]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                               env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    stderr = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)  # This child's own peak (RUSAGE_CHILDREN is every child's).
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise RuntimeError(f"training from {record_dir} failed: {stderr.strip()[-500:]}")
    return usage.ru_maxrss / 1024.0  # Linux reports KB.
