"""Serve a tf.data service dispatcher for `training.train --data_service=grpc://HOST:PORT`.

  python -m training.data_service_dispatcher --port=5050
  python -m training.data_service_dispatcher --port=5050 --work_dir=/shared/dispatcher  # survives restarts

Then start workers (`python -m training.data_service_worker --dispatcher=HOST:5050`) and the run.
Stops cleanly on SIGTERM or Ctrl-C. README: tf.data service.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up lines.

from absl import app, flags  # noqa: E402

from core.flag_parsing import parse_flags_or_exit  # noqa: E402

flags.DEFINE_integer("port", 5050, "Port to serve on (every interface).")
flags.DEFINE_string("work_dir", "", "Directory where the dispatcher journals its datasets and jobs before "
                    "answering (fault-tolerant mode): a dispatcher restarted with the same directory resumes "
                    "them. Empty: state in memory only; a restarted dispatcher has forgotten the runs' jobs.")

FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        sys.exit(f"error: unexpected arguments {' '.join(argv[1:])!r}; every setting is a --flag")
    if not 0 < FLAGS.port < 65536:
        sys.exit(f"error: --port={FLAGS.port}: must be from 1 to 65535")
    from core import data_service_servers  # pylint: disable=import-outside-toplevel

    try:
        server = data_service_servers.start_dispatcher(FLAGS.port, os.path.expanduser(FLAGS.work_dir))
    except data_service_servers.ServerStartError as error:
        sys.exit(f"error: {error}")
    journal = f", journal in {FLAGS.work_dir}" if FLAGS.work_dir else ""
    print(f"tf.data service dispatcher serving at {server.target}{journal}; workers: "
          f"python -m training.data_service_worker --dispatcher=HOST:{FLAGS.port}", flush=True)
    signal_name = data_service_servers.serve_until_stopped(server)
    print(f"tf.data service dispatcher stopped by {signal_name}", flush=True)


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags_or_exit)
