"""Reading record shards one record at a time, naming every bad record by shard and index.

Each shard is read as its records, numbered from 0, followed by an end marker carrying how many
records could be read: a truncated or corrupt shard ends early (TensorFlow's TFRecord reader
stops at the first record whose length or CRC is wrong), and the marker, compared with the
metadata's count, names the first unreadable record. Records are then numbered by their position
in the stream and parsed and decoded in one parallel map; one that is not a tf.train.Example or
whose image does not decode fails there, is dropped, and leaves a gap in the positions, which
`bad_record_error` turns back into the shard and index by reading the stream again up to that
position (only when stopping). A label out of range is a reason code on the record itself. What
a bad record does is the BadRecordPolicy's: stop with one line (`BadRecordError`), or count it
and leave it out.
"""

import contextlib

import tensorflow as tf

from core.data import record_format
from core.data.errors import DatasetError
from core.data.image_files import decode_image

# tf.data functions here have no Python control flow on tensors: AutoGraph's conversion of them
# (seconds per pipeline, most of the time to build one) is skipped.
plain = tf.autograph.experimental.do_not_convert
# Reason codes of a record's check, and the words of the message for each.
GOOD, NOT_AN_EXAMPLE, UNDECODABLE, LABEL_OUT_OF_RANGE, UNREADABLE = 0, 1, 2, 3, 4
REASONS = ("", "is not a tf.train.Example with image/encoded and image/class/label",
           "holds an image that does not decode as JPEG/PNG", "has a label outside the classes",
           "cannot be read (the shard is truncated or corrupt from there on, or longer than its metadata says)")
# Bad-record messages cross the graph inside an assertion; these bracket them for BadRecordError.
MESSAGE_START, MESSAGE_END = "tapecraft bad record: ", " ||"


def shard_records(paths, shard):
    """The records of shard `shard` (an int32 index into `paths`) and its end marker.

    Elements are (shard int32, index int64, serialized string, is_marker bool); the marker's
    index is the number of records read.
    """
    records = tf.data.TFRecordDataset(tf.gather(paths, shard)).ignore_errors()
    records = records.map(plain(lambda serialized: (serialized, False)))
    records = records.concatenate(tf.data.Dataset.from_tensors((tf.constant(""), True)))

    def number(count, element):
        serialized, is_marker = element
        return count + 1, (shard, count, serialized, is_marker)

    return records.scan(tf.constant(0, tf.int64), plain(number))


def drop_whole_shard_ends(records, expected_counts):
    """Drops the end markers of shards read to their expected count; the others stay, to be
    reported (in order, after the records that were read) as the shard's first unreadable record."""
    expected_counts = tf.constant(expected_counts, tf.int64)

    def keep(shard, index, serialized, is_marker):
        return tf.logical_not(is_marker) | tf.not_equal(index, tf.gather(expected_counts, shard))

    return records.filter(plain(keep))


class BadRecordPolicy:
    """What a bad record does: stop the run (the default) or count it and leave it out.

    Counts live in two int64 variables updated inside tf.data as records are read (read ahead of
    the step by the prefetch depth); `check` compares them with the allowed fraction at the end of
    each loop. They count from the start of the process (a resumed run starts again from 0).

    Args:
      skip: --skip_bad_records.
      max_fraction: --max_bad_records_fraction: `check` stops the run above it.
    """

    def __init__(self, skip: bool = False, max_fraction: float = 0.0):
        self.skip = skip
        self.max_fraction = max_fraction
        self.bad = tf.Variable(0, dtype=tf.int64, trainable=False, name="bad_records")
        self.read = tf.Variable(0, dtype=tf.int64, trainable=False, name="records_read")

    def examples(self, checked, paths, expected_counts, stream: int):
        """(position, image, label) of the good examples of `decode_records`' output.

        A record that failed to parse or decode left a gap in the positions; the message of a
        stop names the gap's first position in `stream`, which `bad_record_error` turns into the
        shard and index (`register_stream`). The other bad records carry their shard and index.
        """
        expected_counts = tf.constant(expected_counts, tf.int64)

        def check(position, shard, index, image, label, reason, gap):
            known = tf.not_equal(reason, GOOD)
            message = tf.strings.join([
                MESSAGE_START, tf.where(known, tf.strings.join([
                    tf.gather(paths, tf.maximum(shard, 0)), ": record ", tf.strings.as_string(index), " ",
                    tf.gather(REASONS, reason)]), tf.strings.join([
                        POSITION_TAG, tf.strings.as_string(stream), ":", tf.strings.as_string(position - gap)])),
                MESSAGE_END])
            # An unreadable shard end counts the records it should have had after `index`.
            unread = tf.where(tf.equal(reason, UNREADABLE),
                              tf.maximum(tf.gather(expected_counts, tf.maximum(shard, 0)) - index, 1), 0)
            bad = gap + tf.where(tf.equal(reason, UNREADABLE), unread, tf.cast(known, tf.int64))
            read = gap + tf.where(tf.equal(reason, UNREADABLE), unread, tf.cast(shard >= 0, tf.int64))
            with tf.control_dependencies([self.read.assign_add(read)]):
                return self._apply(tf.equal(bad, 0), message, bad, (position, shard, image, label, known))

        checked = checked.map(plain(check))
        keep = lambda position, shard, image, label, known: (shard >= 0) & tf.logical_not(known)  # noqa: E731
        drop_flags = lambda position, shard, image, label, known: (position, image, label)  # noqa: E731
        return checked.filter(plain(keep)).map(plain(drop_flags))

    def _apply(self, good, message, bad_count, element):
        if self.skip:
            with tf.control_dependencies([self.bad.assign_add(bad_count)]):
                return tf.nest.map_structure(tf.identity, element)
        with tf.control_dependencies([tf.debugging.Assert(good, [message], summarize=1)]):
            return tf.nest.map_structure(tf.identity, element)

    def check(self) -> dict:
        """{"bad_records", "records_read"} so far in this process.

        Raises:
          DatasetError: when more than `max_fraction` of the records read were bad.
        """
        bad, read = int(self.bad.numpy()), int(self.read.numpy())
        if bad and bad > self.max_fraction * read:
            raise DatasetError(f"--skip_bad_records: {bad} of {read} records read are bad, more than "
                               f"--max_bad_records_fraction={self.max_fraction}; the data need repair "
                               "(convert again)")
        return {"bad_records": bad, "records_read": read}


def decode_records(records, image_shape, resize: bool, num_classes: int, label_offset: int, start: int = 0,
                   finite: bool = False):
    """(position, shard, index, image float32 [H, W, C] in [0, 1], label int32, reason, gap) per record.

    Records run through one parallel map; one that is not an Example or whose image does not
    decode fails there and is dropped (`ignore_errors`), which leaves a gap in the positions:
    `gap` is the number of records dropped just before this one. Bad records are rare, and this
    keeps the common path a plain map (a small dataset per record to catch each failure by name
    cost ~0.5 ms per record on this machine, a fifth of a 224x224 JPEG decode). A finite stream
    ends with a sentinel (shard -1) so that a gap at its end shows too.

    Args:
      records: (shard, index, serialized, is_marker) elements; a marker (a shard's unreadable
        end) passes through as reason UNREADABLE.
      image_shape: (H, W, C) to decode and (with `resize`) resize to.
      resize: whether stored images may differ from image_shape (bilinear with antialiasing, the
        aspect ratio not kept, as --dataset=image_folder does); False decodes them as they are.
      num_classes, label_offset: class index = stored label - label_offset, in [0, num_classes).
      start: the first record's position in the stream.
      finite: whether `records` ends (evaluation) rather than repeating forever.

    Decoding runs on the CPU in tf.data; a GPU decoder (nvJPEG, DALI) would replace `decode` below.
    """
    height, width, channels = image_shape
    blank = tf.zeros(image_shape, tf.float32)

    def decode(serialized):
        features = tf.io.parse_single_example(serialized, record_format.TRAINING_FEATURES)
        label = tf.cast(features[record_format.LABEL] - label_offset, tf.int32)
        image = decode_image(features[record_format.ENCODED], channels)
        if resize:
            image = tf.image.resize(image, (height, width), antialias=True)
        image = tf.ensure_shape(tf.cast(image, tf.float32), image_shape) / 255.0
        in_range = (label >= 0) & (label < num_classes)
        return image, tf.clip_by_value(label, 0, num_classes - 1), tf.where(in_range, GOOD, LABEL_OUT_OF_RANGE)

    def decode_one(position, record):
        shard, index, serialized, is_marker = record
        # The sentinel (shard -1) is good; a marker is a shard's unreadable end.
        image, label, reason = tf.cond(
            (shard >= 0) & tf.logical_not(is_marker), lambda: decode(serialized),
            lambda: (blank, 0, tf.where(is_marker, UNREADABLE, GOOD)))
        return position, shard, index, image, label, reason

    if finite:
        records = records.concatenate(tf.data.Dataset.from_tensors((tf.constant(-1), tf.constant(0, tf.int64),
                                                                    tf.constant(""), tf.constant(False))))
    decoded = records.enumerate(start).map(plain(decode_one), num_parallel_calls=tf.data.AUTOTUNE,
                                           deterministic=True).ignore_errors()

    def find_gap(expected, element):
        position = element[0]
        return position + 1, element + (position - expected,)

    return decoded.scan(tf.constant(start, tf.int64), plain(find_gap))


# Streams whose stop messages carry a position, by number: number -> position -> (path, index, serialized).
POSITION_TAG = "stream position "
_STREAMS = {}


def register_stream(identify) -> int:
    """A number for a stream whose records `identify(position)` finds again (for stop messages)."""
    _STREAMS[len(_STREAMS)] = identify
    return len(_STREAMS) - 1


def describe_record(serialized: bytes, channels: int) -> str:
    """Why one record is bad, found again eagerly: REASONS' words."""
    try:
        features = tf.io.parse_single_example(serialized, record_format.TRAINING_FEATURES)
    except (tf.errors.InvalidArgumentError, ValueError):
        return REASONS[NOT_AN_EXAMPLE]
    try:
        decode_image(features[record_format.ENCODED], channels)
    except (tf.errors.InvalidArgumentError, ValueError):
        return REASONS[UNDECODABLE]
    return "failed to decode"


class BadRecordError(DatasetError):
    """A bad record stopped the run; the message names the shard and the record's index."""


def bad_record_error(error):
    """The BadRecordError a tf.errors.InvalidArgumentError carries, or None when it is another error."""
    message = getattr(error, "message", str(error))
    start = message.find(MESSAGE_START)
    end = message.find(MESSAGE_END, start)
    if start < 0 or end < 0:
        return None
    text = message[start + len(MESSAGE_START):end]
    if text.startswith(POSITION_TAG):
        stream, position = (int(part) for part in text[len(POSITION_TAG):].split(":"))
        path, index, serialized, channels = _STREAMS[stream](position)
        text = f"{path}: record {index} {describe_record(serialized, channels)}"
    return BadRecordError(text + " (--skip_bad_records leaves such records out)")


@contextlib.contextmanager
def explain_bad_records():
    """Turns the assertion a bad record raises inside tf.data into its one-line BadRecordError."""
    try:
        yield
    except tf.errors.InvalidArgumentError as error:
        explained = bad_record_error(error)
        if explained is None:
            raise
        raise explained from None
