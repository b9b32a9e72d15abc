"""Serve a tf.data service worker: it makes training batches for the runs of its dispatcher.

  python -m training.data_service_worker --dispatcher=10.0.0.5:5050 --port=5051
  python -m training.data_service_worker --dispatcher=localhost:5050 --port=5052 --host=localhost

Start as many as the training step needs to be fed, on any machines that reach the dispatcher
and the training processes; each needs the data files the run's task reads (the same paths).
Stops cleanly on SIGTERM or Ctrl-C. README: tf.data service.
"""

import os
import socket
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's C++ start-up lines.

from absl import app, flags  # noqa: E402

from core.flag_parsing import parse_flags_or_exit  # noqa: E402

flags.DEFINE_string("dispatcher", "", "The dispatcher's address, host:port or grpc://host:port.")
flags.DEFINE_integer("port", 5051, "Port to serve batches on (every interface); one per worker on a machine.")
flags.DEFINE_string("host", "", "The name or address training processes reach this machine by (the dispatcher "
                    "hands it to them). Empty: this machine's host name.")

FLAGS = flags.FLAGS


def main(argv):
    if len(argv) > 1:
        sys.exit(f"error: unexpected arguments {' '.join(argv[1:])!r}; every setting is a --flag")
    if not 0 < FLAGS.port < 65536:
        sys.exit(f"error: --port={FLAGS.port}: must be from 1 to 65535")
    # pylint: disable=import-outside-toplevel
    from core import data_service, data_service_servers

    try:
        dispatcher = data_service.parse_service_address(FLAGS.dispatcher)
        data_service.check_dispatcher(dispatcher)  # Else the worker would retry for an hour, silently.
    except ValueError as error:
        sys.exit(f"error: --dispatcher={FLAGS.dispatcher!r}: {error}")
    host = FLAGS.host or socket.gethostname()
    try:
        server = data_service_servers.start_worker(dispatcher, FLAGS.port, host)
    except data_service_servers.ServerStartError as error:
        sys.exit(f"error: {error}")
    print(f"tf.data service worker serving at {host}:{FLAGS.port} for the dispatcher at {dispatcher}", flush=True)
    signal_name = data_service_servers.serve_until_stopped(server)
    print(f"tf.data service worker stopped by {signal_name}", flush=True)


if __name__ == "__main__":
    app.run(main, flags_parser=parse_flags_or_exit)
