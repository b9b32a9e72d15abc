"""Datasets by the name `--dataset` uses."""

from core.data.digits import load_digits
from core.data.synthetic import load_synthetic

# name -> loader(data_dir) returning DatasetSplits. Loaders of real datasets read the standard
# files from `data_dir`; none downloads anything.
DATASETS = {
    "digits": lambda data_dir: load_digits(),
    "synthetic": lambda data_dir: load_synthetic(),
}


def load_dataset(name: str, data_dir: str | None = None):
    """Loads the dataset called `name`.

    Raises:
      ValueError: for an unknown name.
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; expected one of {', '.join(sorted(DATASETS))}")
    return DATASETS[name](data_dir)
