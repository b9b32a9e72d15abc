"""How the conformance kit reports what a layer got wrong."""

import dataclasses


@dataclasses.dataclass(frozen=True)
class Failure:
    """One failed check.

    Attributes:
      check: the check's name, one of `CHECKS`.
      layer: the class name of the layer under test.
      message: what went wrong, with the numbers that show it.
    """

    check: str
    layer: str
    message: str

    def __str__(self):
        return f"[{self.check}] {self.layer}: {self.message}"


class CheckFailed(Exception):
    """Raised inside a check; the runner turns it into a `Failure` naming the check and layer."""


class ConformanceError(AssertionError):
    """A layer failed one or more conformance checks; the message has one line per failure.

    An AssertionError, so pytest reports it as a failed assertion with the message in full.

    Attributes:
      failures: the `Failure`s, in the order the checks ran.
      checks: the names of the failed checks.
    """

    def __init__(self, failures):
        self.failures = tuple(failures)
        self.checks = tuple(failure.check for failure in self.failures)
        lines = [f"{len(self.failures)} conformance check(s) failed:"] + [f"  {f}" for f in self.failures]
        super().__init__("\n".join(lines))


def describe_exception(error):
    """`TypeName: first line of the message`, short enough for a one-line failure."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    # Keras wraps errors raised in call() in "Exception encountered when calling ..."; the cause follows.
    meaningful = [line for line in lines if not line.startswith("Exception encountered")]
    first = (meaningful or lines or [""])[0]
    return f"{type(error).__name__}: {first[:300]}"
