"""No file a user points tapecraft at can run code: the packages' source never deserializes unsafely.

Keras deserializes models in safe mode (no Lambda bytecode) only when asked; pickle, marshal,
eval/exec, yaml.load and numpy's allow_pickle run whatever a file holds. This reads every module
of the packages and refuses those calls, so a loader added later keeps the rule.
"""

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = ("core", "layers", "training", "benchmarks")
# Keras entry points that deserialize a model or layer: they must say safe_mode=True.
KERAS_DESERIALIZERS = {"load_model", "deserialize_keras_object", "model_from_json"}
# Module-level calls that execute what they read.
UNSAFE_CALLS = {("pickle", "load"), ("pickle", "loads"), ("marshal", "load"), ("marshal", "loads"),
                ("yaml", "load"), ("yaml", "unsafe_load"), ("dill", "load"), ("dill", "loads")}


def _modules():
    return sorted(path for package in PACKAGES for path in (ROOT / package).rglob("*.py"))


def _keyword(call, name):
    return next((keyword.value for keyword in call.keywords if keyword.arg == name), None)


def unsafe_calls(source: str) -> list:
    """Descriptions of the unsafe deserializing calls in a module's source."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        function = node.func
        name = function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", None)
        owner = getattr(function.value, "id", None) if isinstance(function, ast.Attribute) else None
        if name in KERAS_DESERIALIZERS:
            safe_mode = _keyword(node, "safe_mode")
            if not (isinstance(safe_mode, ast.Constant) and safe_mode.value is True):
                found.append(f"line {node.lineno}: {name}() without safe_mode=True")
        elif name == "enable_unsafe_deserialization" or (owner, name) in UNSAFE_CALLS:
            found.append(f"line {node.lineno}: {owner + '.' if owner else ''}{name}()")
        elif name in ("eval", "exec") and owner is None:
            found.append(f"line {node.lineno}: {name}()")
        allow_pickle = _keyword(node, "allow_pickle")
        if isinstance(allow_pickle, ast.Constant) and allow_pickle.value is True:
            found.append(f"line {node.lineno}: {name}(allow_pickle=True)")
    return found


@pytest.mark.parametrize("source,expected", [
    ("keras.saving.load_model(path)", ["line 1: load_model() without safe_mode=True"]),
    ("keras.saving.load_model(path, safe_mode=False)", ["line 1: load_model() without safe_mode=True"]),
    ("keras.saving.load_model(path, safe_mode=True)", []),
    ("keras.config.enable_unsafe_deserialization()", ["line 1: enable_unsafe_deserialization()"]),
    ("data = pickle.loads(blob)", ["line 1: pickle.loads()"]),
    ("np.load(path, allow_pickle=True)", ["line 1: load(allow_pickle=True)"]),
    ("exec(text)", ["line 1: exec()"]),
    ("RestrictedUnpickler(stream).load()", []),
])
def test_the_scanner_finds_unsafe_calls(source, expected):
    assert unsafe_calls(source) == expected


def test_no_module_deserializes_unsafely():
    modules = _modules()
    assert len(modules) > 20  # The scan sees the packages.
    found = {str(path.relative_to(ROOT)): unsafe_calls(path.read_text()) for path in modules}
    assert {path: calls for path, calls in found.items() if calls} == {}
