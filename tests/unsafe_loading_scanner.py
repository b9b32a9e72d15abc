"""Finds Python code that can run what a file holds, by reading its syntax tree, not its text.

A name is resolved through the module's imports and their aliases before it is judged, so
`import pickle as pk; pk.loads(b)`, `from pickle import loads; loads(b)`, `builtins.eval(s)` and
`pickle.Unpickler(f).load()` are all found. What is flagged:
  - any use (a call, an alias, an argument) of pickle, _pickle, dill, cloudpickle, marshal or
    shelve beyond the names that only write (`dumps`, `Pickler`, the exception classes, the
    upper-case opcode and protocol constants);
    one of those modules used as a value (`getattr(pickle, name)`) or imported by a string;
  - a subclass of an Unpickler that does not override `find_class` (overriding it is how an
    unpickler is restricted; core/data/restricted_pickle.py is tested against crafted pickles);
  - eval/exec, however reached; yaml's loaders other than the safe ones; joblib.load;
  - `allow_pickle=` anything but the literal False, `safe_mode=` anything but the literal True,
    a Keras deserializer called without `safe_mode=True`, enable_unsafe_deserialization.
Out of reach: names built at run time (`sys.modules[...]`, getattr on a non-module), and code
in strings this module is not shown.
"""

import ast
import builtins

# module -> the names of it that do not read (everything else of the module is flagged, except
# upper-case constants: pickle's opcodes and protocol numbers are bytes and ints).
UNSAFE_MODULES = {
    "pickle": {"dump", "dumps", "Pickler", "_Pickler", "PickleBuffer", "PickleError", "PicklingError",
               "UnpicklingError"},
    "_pickle": {"dump", "dumps", "Pickler", "PickleError", "PicklingError", "UnpicklingError"},
    "dill": {"dump", "dumps", "Pickler", "PicklingError", "UnpicklingError"},
    "cloudpickle": {"dump", "dumps", "Pickler"},
    "marshal": {"dump", "dumps", "version"},
    "shelve": set(),
}
UNPICKLERS = {f"{module}.Unpickler" for module in ("pickle", "_pickle", "dill")}
# Qualified names in other modules whose every use is unsafe.
UNSAFE_NAMES = {"builtins.eval", "builtins.exec", "joblib.load", "yaml.unsafe_load", "yaml.unsafe_load_all",
                "yaml.full_load", "yaml.full_load_all", "yaml.Loader", "yaml.UnsafeLoader", "yaml.FullLoader"}
# yaml.load(stream, Loader) is safe with these loaders only.
YAML_LOADS = {"yaml.load", "yaml.load_all"}
SAFE_YAML_LOADERS = {"yaml.SafeLoader", "yaml.CSafeLoader", "yaml.BaseLoader", "yaml.CBaseLoader"}
# Keras entry points that deserialize a model or layer, by their last name: they must say safe_mode=True.
KERAS_DESERIALIZERS = {"load_model", "deserialize_keras_object", "model_from_json"}
IMPORTERS = {"importlib.import_module", "builtins.__import__"}


def unsafe_loading(source: str) -> list:
    """Descriptions ("line N: what") of the unsafe loading in a module's source, in line order."""
    tree = ast.parse(source)
    scanner = _Scanner(_imported_names(tree))
    scanner.visit(tree)
    return [f"line {line}: {what}" for line, what in sorted(scanner.found, key=lambda item: item[0])]


def _imported_names(tree):
    """name -> the qualified names it is bound to by any import in the module (every scope)."""
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                # `import a.b` binds `a`; `import a.b as c` binds `c` to `a.b`.
                bound = alias.asname or alias.name.split(".")[0]
                target = alias.name if alias.asname else bound
                names.setdefault(bound, set()).add(target)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                if alias.name != "*":
                    names.setdefault(alias.asname or alias.name, set()).add(f"{node.module}.{alias.name}")
    return names


class _Scanner(ast.NodeVisitor):
    """Walks one module's tree, collecting (line, what) in `found`; `imported` is _imported_names'."""

    def __init__(self, imported):
        self.imported = imported
        self.found = []

    def resolve(self, node):
        """The qualified names an expression may stand for (a Name or a chain of attributes)."""
        if isinstance(node, ast.Name):
            if node.id in self.imported:
                return self.imported[node.id]
            if node.id == "__builtins__":
                return {"builtins"}
            return {f"builtins.{node.id}"} if hasattr(builtins, node.id) else set()
        if isinstance(node, ast.Attribute):
            return {f"{owner}.{node.attr}" for owner in self.resolve(node.value)}
        return set()

    def report(self, node, what):
        self.found.append((node.lineno, what))

    def check_reference(self, node):
        """Flags a Name or attribute chain that stands for an unsafe function, class or module."""
        written = ast.unparse(node)
        for name in sorted(self.resolve(node)):
            module, _, attribute = name.rpartition(".")
            reads = (module in UNSAFE_MODULES and attribute not in UNSAFE_MODULES[module]
                     and not attribute.isupper())
            unsafe = name in UNSAFE_NAMES or name in YAML_LOADS or reads
            if unsafe:
                self.report(node, name if written == name else f"{name} (written {written})")
                return True
            if name in UNSAFE_MODULES:
                self.report(node, f"the {name} module used as a value (written {written}): what it calls "
                                  "cannot be read")
                return True
        return False

    def visit_Name(self, node):
        self.check_reference(node)

    def visit_Attribute(self, node):
        # A whole chain is judged at once: `pickle.loads` is one finding, not `pickle` as a value too.
        if self.resolve(node):
            self.check_reference(node)
        else:
            self.visit(node.value)

    def visit_ImportFrom(self, node):
        # Other imported names are judged where they are used (an import alone runs nothing).
        if node.module in UNSAFE_MODULES and any(alias.name == "*" for alias in node.names):
            self.report(node, f"from {node.module} import *: the names it brings in cannot be read")

    def visit_ClassDef(self, node):
        restricts = any(isinstance(item, ast.FunctionDef) and item.name == "find_class" for item in node.body)
        for base in node.bases:
            if restricts and self.resolve(base) & UNPICKLERS:
                continue  # A restricted unpickler: it decides which globals a stream may name.
            if self.resolve(base) & UNPICKLERS:
                self.report(base, f"class {node.name} subclasses {ast.unparse(base)} without overriding "
                                  "find_class")
            else:
                self.visit(base)
        for child in node.keywords + node.decorator_list + node.body:
            self.visit(child)

    def visit_Call(self, node):
        names = self.resolve(node.func)
        keywords = {keyword.arg: keyword.value for keyword in node.keywords if keyword.arg}
        if names & YAML_LOADS:
            loader = keywords.get("Loader", node.args[1] if len(node.args) > 1 else None)
            if loader is not None and self.resolve(loader) & SAFE_YAML_LOADERS:
                for child in node.args + node.keywords:  # Safe: judge only its arguments.
                    self.visit(child)
                return
        # The function's last name: `load_model` of `keras.saving.load_model` or of `model.load_model`.
        last = {name.rpartition(".")[2] for name in names}
        if isinstance(node.func, ast.Attribute):
            last.add(node.func.attr)
        if last & KERAS_DESERIALIZERS and not _is_literal(keywords.get("safe_mode"), True):
            self.report(node, f"{ast.unparse(node.func)}() without safe_mode=True")
        elif "safe_mode" in keywords and not _is_literal(keywords["safe_mode"], True):
            self.report(node, f"{ast.unparse(node.func)}(safe_mode={ast.unparse(keywords['safe_mode'])})")
        if "enable_unsafe_deserialization" in last:
            self.report(node, f"{ast.unparse(node.func)}()")
        if "allow_pickle" in keywords and not _is_literal(keywords["allow_pickle"], False):
            flag = ast.unparse(keywords["allow_pickle"])
            self.report(node, f"{ast.unparse(node.func)}(allow_pickle={flag})")
        if names & IMPORTERS and node.args and isinstance(node.args[0], ast.Constant):
            module = str(node.args[0].value).split(".")[0]
            if module in UNSAFE_MODULES or module in ("builtins", "yaml", "joblib"):
                self.report(node, f"{ast.unparse(node.func)}({node.args[0].value!r}): a module imported by a "
                                  "string")
        self.generic_visit(node)


def _is_literal(node, value):
    return isinstance(node, ast.Constant) and node.value is value
