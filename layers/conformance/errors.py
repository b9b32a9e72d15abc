"""How the conformance kit reports what a layer got wrong."""

import dataclasses
import re


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


class CheckSkipped(Exception):
    """Raised inside a check that has nothing to verify for this layer; the message is the reason.

    A check either returns what it verified, raises this, or fails: returning early without
    either would let a check that tested nothing count as passed.
    """


class ConformanceError(AssertionError):
    """A layer failed one or more conformance checks; the message has one line per failure.

    An AssertionError, so pytest reports it as a failed assertion with the message in full.

    Attributes:
      failures: the `Failure`s, in the order the checks ran.
      checks: the names of the failed checks.
      report: the `ConformanceReport` of the whole call (what ran, passed or was skipped), or None.
    """

    def __init__(self, failures, report=None):
        self.failures = tuple(failures)
        self.report = report
        self.checks = tuple(failure.check for failure in self.failures)
        lines = [f"{len(self.failures)} conformance check(s) failed:"] + [f"  {f}" for f in self.failures]
        super().__init__("\n".join(lines))


def describe_exception(error):
    """`TypeName: the message's meaningful line`, short enough for a one-line failure.

    Keras wraps errors raised in call() in "Exception encountered when calling ..." and
    "Arguments received by ..."; tf.function adds "in user code:" and a traceback whose last
    line is the cause. Both wrappings are removed, and so are terminal color codes.
    """
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(error)).split("Arguments received by")[0]
    lines, skip_next = [], False
    for line in (raw.strip() for raw in text.splitlines()):
        if skip_next or not line:
            skip_next = False
            continue
        if line.startswith('File "'):
            skip_next = True  # The source line quoted after each traceback entry.
            continue
        if line != "in user code:" and not line.startswith("Exception encountered"):
            lines.append(line)
    return f"{type(error).__name__}: {(lines or [''])[-1][:300]}"
