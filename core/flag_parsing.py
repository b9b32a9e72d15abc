"""absl flag parsing for tapecraft's scripts: a bad flag is one line on stderr and exit status 1.

absl's own parser prints the error, then the whole usage text; in a job log the one line that
matters scrolls away. Every script (training.train, training.predict, benchmarks.*) passes this
as `app.run(main, flags_parser=parse_flags_or_exit)`.
"""

import sys

from absl import flags


def parse_flags_or_exit(argv):
    """absl's parser, but a bad flag ends the process with `error: <what absl said>`."""
    try:
        return flags.FLAGS(argv)
    except flags.Error as error:
        sys.exit(f"error: {error}")
