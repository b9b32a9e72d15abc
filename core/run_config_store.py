"""The settings a run was made with, stored as JSON beside its checkpoints.

A run directory is resumed by whoever names it. Without a record of how it was made, a command
with another model, batch size or learning rate would continue (or fail obscurely on) someone
else's run. `run_config.json` holds the settings; a new process compares its own against it
before touching a checkpoint, and refuses with a message naming every setting that differs.
Settings the caller declares changeable (how long to train, how often to log) may differ.
"""

import contextlib
import json
import os

from core.storage_errors import storage_error

RUN_CONFIG_FILE = "run_config.json"
# The same settings as absl flags, one a line: `python -m training.train --flagfile=<model_dir>/flags.txt`.
FLAG_FILE = "flags.txt"


class RunConfigMismatch(ValueError):
    """The run directory holds a run made with settings that cannot change on resume."""


def run_config_path(directory) -> str:
    return os.path.join(os.fspath(directory), RUN_CONFIG_FILE)


def read_run_config(directory) -> dict | None:
    """The stored settings of the run in `directory`, or None when there are none.

    Raises:
      RunConfigMismatch: when the file exists but is not a JSON object.
    """
    path = run_config_path(directory)
    if not os.path.exists(path):
        return None
    try:
        with open(path, encoding="utf-8") as file:
            values = json.load(file)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RunConfigMismatch(f"{path}: cannot be read as JSON ({error}); it records the flags of the run "
                                "in that directory: restore it, or pick a new --model_dir") from None
    if not isinstance(values, dict):
        raise RunConfigMismatch(f"{path}: holds a JSON {type(values).__name__}, not an object of flag values")
    return values


def write_run_config(directory, values: dict):
    """Writes `values` as the run's settings, atomically (a temporary file renamed into place), as
    JSON in run_config.json and as absl flags in flags.txt.

    Raises:
      StorageError: naming the file when the disk refuses it; no temporary file is left.
    """
    write_text_atomically(run_config_path(directory), json.dumps(values, indent=2, sort_keys=True) + "\n")
    write_text_atomically(os.path.join(os.fspath(directory), FLAG_FILE), flag_file_text(values))


def flag_file_text(values: dict) -> str:
    """absl's --flagfile format of `values`: `--name=value` a line, `--name`/`--noname` for booleans;
    unset (None) settings are left out, so they keep their default (which is unset)."""
    lines = []
    for name, value in sorted(values.items()):
        if value is None:
            continue
        if isinstance(value, bool):
            lines.append(f"--{name}" if value else f"--no{name}")
        else:
            lines.append(f"--{name}={value!r}" if isinstance(value, float) else f"--{name}={value}")
    return "\n".join(lines) + "\n"


def write_text_atomically(path, text):
    """Writes `text` to `path` through a temporary file renamed into place: never half a file.

    Raises:
      StorageError: naming the file when the disk refuses it; no temporary file is left.
    """
    temporary = f"{path}.tmp-{os.getpid()}"
    try:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(temporary, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temporary, path)
    except OSError as error:
        with contextlib.suppress(OSError):
            os.remove(temporary)
        raise (storage_error(path, error) or error) from None


def differing_settings(stored: dict, values: dict, changeable) -> tuple[list, list]:
    """Compares a new run's settings with the stored ones.

    Settings absent from the stored file (added to the program after that run began) and those
    named in `changeable` never block a resume.

    Returns:
      (blocking, allowed): lists of (name, stored value, new value), sorted by name.
    """
    blocking, allowed = [], []
    for name in sorted(values):
        if name not in stored or _same(stored[name], values[name]):
            continue
        (allowed if name in changeable else blocking).append((name, stored[name], values[name]))
    return blocking, allowed


def check_resumable(directory, values: dict, changeable) -> list:
    """Refuses to resume the run in `directory` with settings that differ where they must not.

    Args:
      directory: the run directory (`--model_dir`).
      values: the new run's settings by flag name, JSON-serializable.
      changeable: names of the settings that may differ on resume.

    Returns:
      The allowed differences, (name, stored value, new value), for the log.

    Raises:
      RunConfigMismatch: one line naming every setting that differs and may not, with both values.
    """
    stored = read_run_config(directory)
    if stored is None:
        return []
    blocking, allowed = differing_settings(stored, values, changeable)
    if blocking:
        listed = "; ".join(f"--{name}={old!r} there, {new!r} here" for name, old, new in blocking)
        raise RunConfigMismatch(
            f"--model_dir={os.fspath(directory)} holds a run made with other flags ({listed}); resume it "
            f"with the flags in {run_config_path(directory)}, or pick a new --model_dir")
    return allowed


def _same(stored, new) -> bool:
    # Compared as JSON holds them: tuples become lists.
    return stored == json.loads(json.dumps(new))
