"""Where a number was measured: device, software versions, the command and the time.

A throughput figure without these is not reproducible, so every result line carries them.
"""

import datetime
import os
import platform
import shlex
import sys

import keras
import tensorflow as tf

from core.devices import detect_device


def describe_environment(argv=None) -> dict:
    """The fields every result line shares.

    Args:
      argv: the command line to record; defaults to this process's (`python -m ...` style).
    """
    device = detect_device()
    return {
        "device_kind": device.kind,
        "device_name": device.name,
        "device_count": device.count,
        "cpu_model": _cpu_model(),
        "cpu_cores": os.cpu_count(),
        "cpu_bfloat16": device.cpu_bfloat16,
        "tensorflow_version": tf.__version__,
        "keras_version": keras.__version__,
        "python_version": platform.python_version(),
        "command": _command_line(argv),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "load_average": _load_average(),
    }


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _command_line(argv) -> str:
    argv = list(sys.argv if argv is None else argv)
    if argv and argv[0].endswith(".py") and os.sep in argv[0]:
        # `python -m benchmarks.throughput` shows up as the module's file path.
        module = os.path.splitext(os.path.relpath(argv[0]))[0].replace(os.sep, ".")
        argv = ["python", "-m", module] + argv[1:]
    return shlex.join(argv)


def _load_average():
    """1-minute load average at the start: on a shared machine it says how noisy the run was."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None
