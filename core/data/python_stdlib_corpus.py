"""The embedded text corpus: source files of the Python standard library that ships with the
running interpreter. Real text nobody in this project wrote, present on every machine with
Python, nothing downloaded.

The corpus is a fixed list of modules and a fixed split by module, so the bytes and the split are
the same on every machine with the same Python version. Another Python version has other texts
for the same modules (their sources change between releases): the byte counts, and with them any
loss figure, belong to one version. The run's log line names the version and the byte counts.
A distribution that strips modules (a few Linux packages split the standard library) loses the
missing ones; they are named in that line, never replaced.
"""

import os
import sys
import sysconfig

from core.data.errors import DatasetError
from core.data.text_splits import TextSplits, join_files

# Pure-Python modules present from Python 3.10 to 3.13 (modules that became thin wrappers of a
# private twin, like datetime and decimal in 3.12, are left out). About 3.7 MB on 3.11.
TRAIN_MODULES = (
    "argparse", "ast", "base64", "bisect", "calendar", "collections", "configparser", "contextlib",
    "copy", "csv", "dataclasses", "dis", "email.message", "email.utils", "enum", "fileinput",
    "fnmatch", "fractions", "functools", "getopt", "gettext", "glob", "gzip", "heapq", "html.parser",
    "http.client", "http.cookiejar", "imaplib", "inspect", "ipaddress", "json.decoder", "locale",
    "logging", "lzma", "mailbox", "mimetypes", "numbers", "operator", "optparse", "os", "pdb", "pickle",
    "pickletools", "platform", "plistlib", "poplib", "profile", "pstats", "pydoc", "queue", "quopri",
    "random", "sched", "selectors", "shlex", "shutil", "smtplib", "socket", "statistics", "string",
    "subprocess", "tarfile", "tempfile", "threading", "tokenize", "trace", "traceback", "typing",
    "unittest.case", "urllib.parse", "uuid", "warnings", "weakref", "zipfile",
)
VALIDATION_MODULES = ("difflib", "http.server", "json.encoder", "netrc", "socketserver", "wave", "zipapp",
                      "textwrap")
TEST_MODULES = ("hmac", "logging.handlers", "pprint", "reprlib", "secrets", "tabnanny", "timeit",
                "unittest.mock", "urllib.request")


def module_path(stdlib: str, module: str) -> str | None:
    """The source file of `module` ("a.b" -> a/b.py or a/b/__init__.py) under `stdlib`, or None."""
    base = os.path.join(stdlib, *module.split("."))
    for path in (base + ".py", os.path.join(base, "__init__.py")):
        if os.path.isfile(path):
            return path
    return None


def load_python_stdlib_corpus(stdlib: str | None = None) -> TextSplits:
    """The corpus of this interpreter's standard library, split by module.

    Args:
      stdlib: the standard library's directory (default: this interpreter's).

    Raises:
      DatasetError: when a split has none of its modules (a stripped or unusual installation).
    """
    stdlib = stdlib or sysconfig.get_paths()["stdlib"]
    splits, missing = {}, []
    for split, modules in (("train", TRAIN_MODULES), ("validation", VALIDATION_MODULES),
                           ("test", TEST_MODULES)):
        contents = []
        for module in modules:
            path = module_path(stdlib, module)
            if path is None:
                missing.append(module)
                continue
            with open(path, "rb") as file:
                contents.append(file.read())
        if not contents:
            raise DatasetError(f"--dataset=python_stdlib: none of the {split} modules "
                               f"({', '.join(modules[:3])}, ...) is in {stdlib}")
        splits[split] = (join_files(contents), len(contents))
    version = ".".join(str(part) for part in sys.version_info[:3])
    description = f"the standard library of Python {version} ({stdlib}), split by module"
    if missing:
        description += f"; missing from this installation: {', '.join(missing)}"
    return TextSplits(name="python_stdlib", train=splits["train"][0], validation=splits["validation"][0],
                      test=splits["test"][0], files={name: count for name, (_, count) in splits.items()},
                      description=description)
