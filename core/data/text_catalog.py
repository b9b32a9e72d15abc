"""Text corpora by the name `--dataset` uses, for the language-model task."""

import os

from core.data.python_stdlib_corpus import load_python_stdlib_corpus
from core.data.text_folder import load_text_folder

# name -> loader(data_dir, skip_undecodable, log) returning TextSplits.
TEXT_DATASETS = {
    "python_stdlib": lambda data_dir, skip_undecodable, log: load_python_stdlib_corpus(),
    "text_folder": lambda data_dir, skip_undecodable, log: load_text_folder(
        os.path.expanduser(data_dir), skip_undecodable, log),
}
# The corpora read from `--data_dir`.
TEXT_FILE_DATASETS = ("text_folder",)


def load_text_corpus(name: str, data_dir: str | None = None, skip_undecodable: bool = False, log=print):
    """The corpus called `name` (a key of TEXT_DATASETS) as TextSplits.

    Raises:
      DatasetError: files absent, not UTF-8 (without `skip_undecodable`), or none usable.
    """
    if name not in TEXT_DATASETS:
        raise ValueError(f"unknown text dataset {name!r}; expected one of {', '.join(sorted(TEXT_DATASETS))}")
    return TEXT_DATASETS[name](data_dir, skip_undecodable, log)
