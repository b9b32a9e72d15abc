"""What check_layer did: each check's runs, what each verified, and why a check was skipped."""

import dataclasses

PASSED = "passed"
SKIPPED = "skipped"
FAILED = "failed"


@dataclasses.dataclass(frozen=True)
class Outcome:
    """One run of one check (a precision-dependent check runs once per policy).

    Attributes:
      check: the check's name, one of `CHECKS`.
      precision: the policy it ran under, or None for checks that run once in float32.
      status: PASSED, SKIPPED or FAILED.
      detail: what the check verified (passed), why it did not run (skipped), or what went
        wrong (failed).
    """

    check: str
    precision: str | None
    status: str
    detail: str

    def __str__(self):
        where = f" under {self.precision}" if self.precision else ""
        return f"{self.check}{where}: {self.status}: {self.detail}"


@dataclasses.dataclass(frozen=True)
class ConformanceReport:
    """Every outcome of one check_layer call, in the order the checks ran.

    Attributes:
      layer: the class name of the layer under test.
      outcomes: the `Outcome`s.
    """

    layer: str
    outcomes: tuple

    @property
    def ran(self):
        """Names of the checks that ran (passed or failed) under at least one precision."""
        return self._names(lambda outcomes: any(o.status != SKIPPED for o in outcomes))

    @property
    def failed(self):
        """Names of the checks that failed under at least one precision."""
        return self._names(lambda outcomes: any(o.status == FAILED for o in outcomes))

    @property
    def skipped(self):
        """{check name: reason} for every check that did not run under some precision. The reason
        names the precisions only when the check ran under others or skipped for different reasons."""
        reasons = {}
        for name in dict.fromkeys(outcome.check for outcome in self.outcomes):
            runs = [outcome for outcome in self.outcomes if outcome.check == name]
            skips = [outcome for outcome in runs if outcome.status == SKIPPED]
            if skips and len(skips) == len(runs) and len({outcome.detail for outcome in skips}) == 1:
                reasons[name] = skips[0].detail
            elif skips:
                reasons[name] = "; ".join(f"under {outcome.precision}: {outcome.detail}" for outcome in skips)
        return reasons

    def _names(self, predicate):
        names = dict.fromkeys(outcome.check for outcome in self.outcomes)
        return tuple(name for name in names
                     if predicate([outcome for outcome in self.outcomes if outcome.check == name]))

    def __str__(self):
        lines = [f"conformance of {self.layer}: {len(self.ran)} check(s) ran ({len(self.failed)} failed), "
                 f"{len(self.skipped)} skipped"]
        return "\n".join(lines + [f"  {outcome}" for outcome in self.outcomes])
