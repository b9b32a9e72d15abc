"""Which way a metric improves, for the best checkpoint and early stopping.

A goal names a metric as the run reports it at a loop boundary, `<split>/<name>`: `train/loss`,
`validation/accuracy`, `validation/top5_accuracy`, ... The direction is explicit with a `min:` or
`max:` prefix; without one, a name that reads as an error or a cost goes down and anything else
goes up: lower is better for names ending in `loss` or `error` or holding `perplexity` or
`bits_per` (`validation/loss`, `validation/mean_absolute_error`, a language model's
`validation/bits_per_byte`), higher for the rest (accuracies, AUC, ...).
"""

import dataclasses
import math

SPLITS = ("train", "validation")  # The metrics a loop boundary has; the test split comes at the end only.
_LOWER_IS_BETTER_ENDINGS = ("loss", "error")
_LOWER_IS_BETTER_PARTS = ("perplexity", "bits_per")


@dataclasses.dataclass(frozen=True)
class MetricGoal:
    """A metric and its direction.

    Attributes:
      key: `<split>/<name>`, as in the metrics a hook receives.
      lower_is_better: True when smaller values are better.
    """

    key: str
    lower_is_better: bool

    @property
    def split(self) -> str:
        return self.key.split("/", 1)[0]

    @property
    def name(self) -> str:
        return self.key.split("/", 1)[1]

    def describe(self) -> str:
        return f"{self.key} ({'lower' if self.lower_is_better else 'higher'} is better)"

    def improves(self, value: float, best: float | None) -> bool:
        """Whether `value` is better than `best` (None: nothing yet). NaN never improves."""
        if not math.isfinite(value):
            return False
        if best is None:
            return True
        return value < best if self.lower_is_better else value > best


def parse_metric_goal(text: str) -> MetricGoal:
    """`[min:|max:]<split>/<name>` -> MetricGoal.

    Raises:
      ValueError: saying what the text must look like.
    """
    direction, colon, key = text.partition(":")
    if not colon:
        direction, key = "", text
    elif direction not in ("min", "max"):
        raise ValueError("the prefix before ':' must be min or max")
    split, slash, name = key.partition("/")
    if split not in SPLITS or not slash or not name:
        raise ValueError(f"must look like [min:|max:]{'|'.join(SPLITS)}/<metric>, e.g. validation/accuracy")
    if direction:
        return MetricGoal(key, direction == "min")
    lower = name.endswith(_LOWER_IS_BETTER_ENDINGS) or any(part in name for part in _LOWER_IS_BETTER_PARTS)
    return MetricGoal(key, lower)


def check_metric_flags(config, metric_names):
    """Raises ConfigError naming --best_metric or --early_stopping_metric when the task does not
    report that metric; called before the run directory is touched.

    Args:
      config: a TrainConfig.
      metric_names: the metrics every split reports: "loss" and the task's own.
    """
    from training.config import ConfigError  # pylint: disable=import-outside-toplevel  # config imports this.

    for flag in ("best_metric", "early_stopping_metric"):
        text = getattr(config, flag)
        if not text:
            continue
        goal = parse_metric_goal(text)
        if goal.name not in metric_names:
            raise ConfigError(f"--{flag}={text!r}: the task reports no metric {goal.name!r}; it has "
                              f"{', '.join(f'{goal.split}/{name}' for name in metric_names)}")


def flatten_metrics(train: dict, validation: dict | None) -> dict:
    """{"train/loss": ..., "validation/accuracy": ...}: a boundary's metrics under their split."""
    metrics = {f"train/{name}": value for name, value in train.items()}
    metrics.update({f"validation/{name}": value for name, value in (validation or {}).items()})
    return metrics
