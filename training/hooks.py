"""Hooks: a user's code at loop boundaries, without editing the run (Orbit calls them actions).

A hook is any callable `hook(step, metrics, model)`. The run calls every hook after each training
loop, once that boundary's validation (if any) is done, with:
  step: the global step reached;
  metrics: {"train/loss": ..., "train/<task metric>": ...} of the loop just run, and
    {"validation/loss": ..., ...} when the validation split was evaluated at this boundary;
  model: the model the task built (its weights as trained; the EMA is not swapped in).
A hook that raises `StopTraining` ends training cleanly: a checkpoint is saved, then the test,
the report and the export proceed. A hook that raises anything else stops the run with a
checkpoint saved first and one line (HookError) naming the hook and its error.

In a multi-worker job every worker calls its hooks; a hook that stops must decide alike on every
worker (the metrics are the same everywhere, the model's weights too).

From the script, `--hooks=package.module:make_hooks[,...]` names callables taking the TrainConfig
and returning a hook or a list of hooks; `--early_stopping_metric` with `--early_stopping_patience`
adds the built-in EarlyStopping.
"""

import importlib

from training.config import ConfigError
from training.metric_goals import flatten_metrics, parse_metric_goal


class StopTraining(Exception):
    """Raised by a hook to end training early and cleanly; the message says why (it is logged)."""


class HookError(RuntimeError):
    """A hook raised; the one-line message names it, its error and the checkpoint saved before stopping."""


class EarlyStopping:
    """Stops training when a metric has not improved for `patience` evaluations of it.

    Its count starts again with the process: a resumed run waits `patience` more evaluations.

    Args:
      metric: `[min:|max:]<split>/<name>` (training/metric_goals.py gives the direction rule).
      patience: evaluations without improvement before stopping (1 or more).
      log: where the line saying why it stopped goes.
    """

    def __init__(self, metric: str, patience: int, log=print):
        self.goal = parse_metric_goal(metric)
        self.patience = patience
        self.log = log
        self.best = None
        self.waited = 0

    def __call__(self, step, metrics, model):
        value = metrics.get(self.goal.key)
        if value is None:  # Not evaluated at this boundary.
            return
        if self.goal.improves(value, self.best):
            self.best, self.waited = value, 0
            return
        self.waited += 1
        if self.waited >= self.patience:
            raise StopTraining(f"early stopping at step {step}: {self.goal.key} has not improved on "
                               f"{self.best:.4f} for {self.patience} evaluation(s)")


def hooks_from_config(config, log=print) -> list:
    """The hooks `--hooks` names (each factory called with `config`), then early stopping.

    Raises:
      ConfigError: naming --hooks when a path cannot be imported, or a factory raises or returns
        something that is not callable.
    """
    hooks = []
    for path in filter(None, (entry.strip() for entry in config.hooks.split(","))):
        module_name, _, attribute = path.partition(":")
        try:
            factory = getattr(importlib.import_module(module_name), attribute)
            made = factory(config)
        except Exception as error:  # noqa: BLE001  A user's module may raise anything.
            raise ConfigError(f"--hooks={path!r}: {type(error).__name__}: {_first_line(error)}") from None
        made = list(made) if isinstance(made, (list, tuple)) else [made]
        for hook in made:
            if not callable(hook):
                raise ConfigError(f"--hooks={path!r}: returned {hook!r}, which is not callable as "
                                  "hook(step, metrics, model)")
        hooks += made
    if config.early_stopping_metric:
        hooks.append(EarlyStopping(config.early_stopping_metric, config.early_stopping_patience, log))
    return hooks


class HookOutcome:
    """Why the hooks ended training at a boundary: a StopTraining reason, or a hook's error."""

    def __init__(self, reason: str, failed: bool):
        self.reason = reason
        self.failed = failed

    def finish(self, checkpoint_path, log):
        """Logs a clean stop, or raises HookError saying where the run's checkpoint is."""
        if self.failed:
            saved = f"; the run stopped with checkpoint {checkpoint_path}" if checkpoint_path else ""
            raise HookError(f"{self.reason}{saved}")
        log(f"Stopped by a hook: {self.reason}")


def call_hooks(hooks, step, train_metrics, validation_metrics, model) -> HookOutcome | None:
    """Calls every hook in order; the first that stops (or raises) ends the calls."""
    if not hooks:
        return None
    metrics = flatten_metrics(train_metrics, validation_metrics)
    for hook in hooks:
        try:
            hook(step, dict(metrics), model)
        except StopTraining as stop:
            return HookOutcome(str(stop) or f"{hook_name(hook)} stopped training at step {step}", failed=False)
        except Exception as error:  # noqa: BLE001  The run saves and stops whatever a hook raises.
            return HookOutcome(f"hook {hook_name(hook)} raised {type(error).__name__} at step {step}: "
                               f"{_first_line(error)}", failed=True)
    return None


def hook_name(hook) -> str:
    """`module.function` or `module.Class`, for messages."""
    named = hook if hasattr(hook, "__qualname__") else type(hook)
    return f"{getattr(named, '__module__', '?')}.{named.__qualname__}"


def _first_line(error) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:300] if text else type(error).__name__
