"""Shared by the task tests: the README's custom task as an importable module, and short runs."""

import os
import pathlib
import re
import subprocess
import sys

import tensorflow as tf

from training import TrainConfig, train_and_evaluate

REPO = pathlib.Path(__file__).resolve().parents[2]
README_TASK = "regression:SineRegression"
GAN_TASK = "tests.training.adversarial_task:TinyGan"
# Short, repeatable runs: a constant learning rate makes a run's schedule independent of
# --train_steps, so a run stopped at step N and extended matches one that ran straight through.
QUICK = dict(train_steps=30, warmup_steps=5, steps_per_loop=10, eval_every=0, checkpoint_every=0, batch_size=32,
             seed=1, export=False, jit_compile="false", precision="float32")


def readme_task_source():
    text = (REPO / "README.md").read_text()
    match = re.search(r"<!-- readme-example:custom-task -->\s*```python\n(.*?)```", text, re.DOTALL)
    assert match, "README has no custom-task example"
    return match.group(1)


def install_readme_task(directory):
    """Writes the README's task to `directory`/regression.py and makes it importable."""
    (pathlib.Path(directory) / "regression.py").write_text(readme_task_source())
    if str(directory) not in sys.path:
        sys.path.insert(0, str(directory))


def train(model_dir, task, **settings):
    """Trains in this process; returns (TrainResult, log lines)."""
    lines = []
    config = TrainConfig(task=task, model_dir=str(model_dir), **{**QUICK, **settings})
    return train_and_evaluate(config, log=lines.append), lines


def progress_losses(lines):
    """The training loss of every progress line ("step 10/30 | loss 0.1234 | ...")."""
    return [float(line.split("| loss ")[1].split()[0]) for line in lines
            if line.startswith("step ") and "| loss" in line]


def checkpoint_numbers(path):
    """Every numeric tensor of a checkpoint but the save counter, by key."""
    reader = tf.train.load_checkpoint(str(path))
    return {key: reader.get_tensor(key) for key, dtype in reader.get_variable_to_dtype_map().items()
            if (dtype.is_floating or dtype.is_integer) and not key.startswith("save_counter")}


def start_script(module_directory, *flags):
    """`python -m training.train` in a subprocess that can import the modules in `module_directory`."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(module_directory), str(REPO)]), PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "training.train", *flags], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def write_text_folder(directory, files=12, bytes_per_file=4096):
    """A folder of `files` UTF-8 files of real text (the starts of standard-library modules' sources,
    `bytes_per_file` each at most): 10 or more files are split by file (core/data/text_folder.py)."""
    import sysconfig  # pylint: disable=import-outside-toplevel

    from core.data.python_stdlib_corpus import TRAIN_MODULES, module_path  # pylint: disable=import-outside-toplevel

    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    stdlib = sysconfig.get_paths()["stdlib"]
    for index, module in enumerate(TRAIN_MODULES[:files]):
        text = pathlib.Path(module_path(stdlib, module)).read_bytes()[:bytes_per_file]
        (directory / f"{index:02d}_{module}.py").write_bytes(text.decode("utf-8", "ignore").encode("utf-8"))
    return str(directory)
