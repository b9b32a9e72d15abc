"""Convert a dataset to sharded TFRecord files of tf.train.Example, for `--dataset=records`.

  python -m training.convert_to_records --source=cifar10 --input_dir=~/data --output_dir=~/records/cifar10
  python -m training.convert_to_records --source=image_folder --input_dir=~/data/flowers \
      --output_dir=~/records/flowers --num_shards=16 --image_size=224
  python -m training.convert_to_records --source=digits --output_dir=/tmp/digits_records --num_shards=4
  python -m training.convert_to_records --source=existing --input_dir=~/imagenet/tfrecords --label_offset=1

`--source=existing` indexes shards another tool wrote (ImageNet's build_imagenet_data.py:
train-00000-of-01024 ... validation-00127-of-00128, labels 1..1000): it reads every record once
and writes records_metadata.json beside them; the shards are not touched.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app, flags  # noqa: E402

from core.flag_parsing import parse_flags_or_exit  # noqa: E402

SOURCES = ("digits", "mnist", "cifar10", "cifar100", "image_folder", "existing")

flags.DEFINE_enum("source", None, SOURCES, "What to convert: a dataset tapecraft loads, or 'existing' shards "
                  "to index (in --input_dir).")
flags.DEFINE_string("input_dir", None, "The source's files (not needed for digits); for 'existing', the "
                    "shards' directory, where the metadata is written.")
flags.DEFINE_string("output_dir", None, "The record directory to write (created).")
flags.DEFINE_integer("num_shards", 8, "Shards of the training split; validation and test get shards in "
                     "proportion to their size, at least one each.", lower_bound=1)
flags.DEFINE_integer("image_size", 0, "image_folder and existing: the side images are trained at by default "
                     "(0: 224). Stored images keep their own size.", lower_bound=0)
flags.DEFINE_integer("label_offset", 0, "existing: stored label - label_offset = class index; 1 for "
                     "build_imagenet_data.py's labels 1..1000 (0 = background).", lower_bound=0)

FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        sys.exit(f"error: unexpected arguments {' '.join(argv[1:])!r}; every setting is a --flag")
    if FLAGS.source is None:
        sys.exit(f"error: --source is required: one of {', '.join(SOURCES)}")
    input_dir = os.path.expanduser(FLAGS.input_dir) if FLAGS.input_dir else None
    if FLAGS.source != "digits" and not input_dir:
        sys.exit(f"error: --input_dir: --source={FLAGS.source} reads its files from a directory; give its path")
    if FLAGS.source != "existing" and not FLAGS.output_dir:
        sys.exit("error: --output_dir: name the record directory to write")
    from core.data import DatasetError
    from core.data import record_conversion

    try:
        if FLAGS.source == "existing":
            metadata = record_conversion.index_existing_records(input_dir, FLAGS.label_offset, FLAGS.image_size)
            output_dir = input_dir
        else:
            output_dir = os.path.expanduser(FLAGS.output_dir)
            metadata = record_conversion.convert(FLAGS.source, input_dir, output_dir, FLAGS.num_shards,
                                                 FLAGS.image_size)
    except (DatasetError, OSError) as error:
        sys.exit(f"error: {error}")
    print(f"Wrote {len(metadata['class_names'])}-class records to {output_dir}; train with "
          f"--dataset=records --data_dir={output_dir}")


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags_or_exit)
