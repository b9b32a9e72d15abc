"""No file a user points tapecraft at can run code: the packages' source never deserializes unsafely.

Keras deserializes models in safe mode (no Lambda bytecode) only when asked; pickle, marshal,
eval/exec, yaml.load and numpy's allow_pickle run whatever a file holds. The scanner
(tests/unsafe_loading_scanner.py) reads each module's syntax tree, resolving imports and their
aliases; it is tested here on each way of reaching those calls and on safe code, then run on
every Python file of the repository: the packages must have no finding, so a loader added later
keeps the rule, and the tests only the ones justified below.
"""

import pathlib

import pytest

from tests.unsafe_loading_scanner import unsafe_loading

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = ("core", "layers", "training", "benchmarks")
# Findings (without their line numbers) in test files, each on code or data the test wrote itself.
JUSTIFIED = {
    # A crafted pickle whose payload calls eval; the standard unpickler runs it, to prove that the
    # restricted one's refusal matters.
    "tests/core/data/test_restricted_pickle.py": ["builtins.eval (written eval)", "pickle.loads"],
    # The README's own Python examples, run as written.
    "tests/test_readme.py": ["builtins.exec (written exec)"] * 3,
}


@pytest.mark.parametrize("source, expected", [
    # The ways in that a text match missed.
    ("import pickle as pk\nobj = pk.loads(blob)", ["line 2: pickle.loads (written pk.loads)"]),
    ("from pickle import loads\nobj = loads(blob)", ["line 2: pickle.loads (written loads)"]),
    ("from pickle import load as read\nread(f)", ["line 2: pickle.load (written read)"]),
    ("import pickle\nobj = pickle.Unpickler(f).load()", ["line 2: pickle.Unpickler"]),
    ("import builtins\nbuiltins.eval(text)", ["line 2: builtins.eval"]),
    ("import numpy as np\nnp.load(path, allow_pickle=flag)", ["line 2: np.load(allow_pickle=flag)"]),
    # Direct calls, and the other modules.
    ("import pickle\npickle.loads(blob)", ["line 2: pickle.loads"]),
    ("import numpy as np\nnp.load(path, allow_pickle=True)", ["line 2: np.load(allow_pickle=True)"]),
    ("exec(text)", ["line 1: builtins.exec (written exec)"]),
    ("__builtins__.eval(text)", ["line 1: builtins.eval (written __builtins__.eval)"]),
    ("import marshal\ncode = marshal.loads(blob)", ["line 2: marshal.loads"]),
    ("import _pickle\n_pickle.load(f)", ["line 2: _pickle.load"]),
    ("import pickle\npickle._loads(blob)", ["line 2: pickle._loads"]),  # Not on the list of writers.
    ("import shelve\nshelve.open(path)", ["line 2: shelve.open"]),
    ("import dill\ndill.load(f)", ["line 2: dill.load"]),
    ("import joblib\njoblib.load(path)", ["line 2: joblib.load"]),
    ("import yaml\nyaml.load(text)", ["line 2: yaml.load"]),
    ("import yaml\nyaml.load(text, Loader=yaml.Loader)", ["line 2: yaml.load", "line 2: yaml.Loader"]),
    ("import yaml\nyaml.unsafe_load(text)", ["line 2: yaml.unsafe_load"]),
    # Hidden behind a value, a string or a star.
    ("import pickle as pk\nread = getattr(pk, 'loads')",
     ["line 2: the pickle module used as a value (written pk): what it calls cannot be read"]),
    ("import pickle\nread = pickle.loads\nread(blob)", ["line 2: pickle.loads"]),
    ("import importlib\nimportlib.import_module('pickle').loads(blob)",
     ["line 2: importlib.import_module('pickle'): a module imported by a string"]),
    ("from pickle import *\nloads(blob)",
     ["line 1: from pickle import *: the names it brings in cannot be read"]),
    ("import pickle\nclass Reader(pickle.Unpickler):\n    pass",
     ["line 2: class Reader subclasses pickle.Unpickler without overriding find_class"]),
    # Keras.
    ("import keras\nkeras.saving.load_model(path)",
     ["line 2: keras.saving.load_model() without safe_mode=True"]),
    ("keras.saving.load_model(path, safe_mode=False)",
     ["line 1: keras.saving.load_model() without safe_mode=True"]),
    ("keras.utils.deserialize_keras_object(config, safe_mode=strict)",
     ["line 1: keras.utils.deserialize_keras_object() without safe_mode=True"]),
    ("layer = from_config(config, safe_mode=False)", ["line 1: from_config(safe_mode=False)"]),
    ("keras.config.enable_unsafe_deserialization()",
     ["line 1: keras.config.enable_unsafe_deserialization()"]),
])
def test_the_scanner_flags_each_way_of_loading_unsafely(source, expected):
    assert unsafe_loading(source) == expected


@pytest.mark.parametrize("source", [
    "import keras\nkeras.saving.load_model(path, safe_mode=True)",
    "import numpy as np\nnp.load(path, allow_pickle=False)\nnp.load(path)",
    "import pickle\nblob = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)",
    "import pickle\nclass Old(pickle._Pickler):\n    def save(self, obj):\n        self.write(pickle.GLOBAL)",
    "import pickle\ntry:\n    pass\nexcept pickle.UnpicklingError:\n    pass",
    "import pickle as pk\nclass Refused(pk.UnpicklingError):\n    pass",
    # A restricted unpickler (core/data/restricted_pickle.py) and its use.
    "import pickle\nclass Strict(pickle.Unpickler):\n    def find_class(self, module, name):\n"
    "        raise pickle.UnpicklingError(name)\nobj = Strict(stream).load()",
    "import yaml\nyaml.safe_load(text)\nyaml.load(text, Loader=yaml.SafeLoader)",
    "model.evaluate(data)\nmodel.eval()\nlayer.load_weights(path)",  # Methods that share a name.
    "from core import loader\nloader.loads(text)",  # A module of the project's own named like one.
    "text = 'pickle.loads(blob) and eval(x)'",  # Strings are not code.
    "import json\njson.loads(text)",
])
def test_the_scanner_leaves_safe_code_alone(source):
    assert unsafe_loading(source) == []


def test_no_module_of_the_packages_loads_unsafely_and_tests_only_where_justified():
    files = sorted(path for path in ROOT.rglob("*.py")
                   if not any(part.startswith(".") for part in path.relative_to(ROOT).parts))
    packages = [path for path in files if path.relative_to(ROOT).parts[0] in PACKAGES]
    assert len(packages) > 20 and len(files) > len(packages)  # The scan sees the packages and the tests.
    found = {}
    for path in files:
        lines = unsafe_loading(path.read_text())
        if lines:
            found[str(path.relative_to(ROOT))] = [line.split(": ", 1)[1] for line in lines]
    assert found == JUSTIFIED
