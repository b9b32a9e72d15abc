"""Checks that the figures a markdown file quotes come from result lines (benchmarks/results/*.jsonl).

The figures checked, and the rounding they may carry (to the digits shown; `44.3k` is 44,300 to
the nearest hundred):
- a spread of examples/s, `M (lo-hi)`: `709 (662-716)`, `**44,349** (39,175-48,450)`: the median,
  min and max of one result line, printed so that lo <= M <= hi;
- a percentage in the table cell right after such a spread: that line's MFU;
- examples/s written `N examples/s` or `N ex/s`, and both sides of a comparison `A vs B`: the
  median of some result line;
- a ratio `R.RRx` (two decimals, to within 0.005), which must be tied to data in one of three ways:
  `R.RRx (A vs B)`, where A and B are medians of two lines of one run (one file, one date) and R is
  A / B; after a spread in a table row, the `speedup_of_tapecraft` of that spread's `compare`
  line; or as one end of a range `R1-R2x` whose ends are both ratios tied to
  data elsewhere in the file.
A figure that does not come from our measurements (another project's, or a target) is accepted
only when it is listed, with its source, in the `external` argument.

Indented and fenced code blocks (the commands) are not read.
"""

import dataclasses
import re

_NUMBER = r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?k?(?![\w.,]\d)"
_SPREAD = re.compile(rf"(?<![\w.,])({_NUMBER})\**\s*\(({_NUMBER})-({_NUMBER})\)")
_SPREAD_THEN_PERCENT = re.compile(rf"{_SPREAD.pattern}\s*\|\s*(\d+(?:\.\d+)?)%")
_THROUGHPUT = re.compile(rf"(?<![\w.,])({_NUMBER})\**\s*(?:examples/s|ex/s)")
_COMPARISON = re.compile(
    rf"(?<![\w.,])({_NUMBER})\**(?: examples/s| ex/s)? vs (?:[a-z]+ )?\**({_NUMBER})(?![\w.,-])")
_RATIO = re.compile(r"(?<![\w.,])(\d+\.\d\d)x")
_ANCHORED_RATIO = re.compile(
    rf"(?<![\w.,])(\d+\.\d\d)x\**\s*\(({_NUMBER})(?: examples/s| ex/s)? vs (?:[a-z]+ )?({_NUMBER})(?![\w.,-])")
_RATIO_RANGE = re.compile(r"(?<![\w.,])(\d+\.\d\d)x?-(\d+\.\d\d)x")
_RATIO_TOLERANCE = 0.005


@dataclasses.dataclass(frozen=True)
class Figure:
    """A number as printed: its value and half the unit of its last digit (the rounding allowed)."""
    text: str
    value: float
    half_unit: float

    def matches(self, exact) -> bool:
        return exact is not None and abs(exact - self.value) <= self.half_unit * (1 + 1e-9)


def parse_figure(text: str) -> Figure:
    """`44.3k` -> 44,300 to within 50; `1,101` -> 1,101 to within 0.5."""
    text = text.strip("*")
    scale = 1000.0 if text.endswith("k") else 1.0
    digits = text.rstrip("k").replace(",", "")
    decimals = len(digits.split(".")[1]) if "." in digits else 0
    return Figure(text, float(digits) * scale, 0.5 * 10.0 ** -decimals * scale)


def _units(markdown: str):
    """(line number, text) of each table row and each prose paragraph, code blocks left out."""
    units, paragraph, start, fenced = [], [], 0, False
    for number, line in enumerate(markdown.splitlines(), 1):
        if line.startswith("```"):
            fenced = not fenced
        is_code = fenced or line.startswith("```") or line.startswith("    ")
        if is_code or not line.strip() or line.startswith("|") or line.startswith("#"):
            if paragraph:
                units.append((start, " ".join(paragraph)))
                paragraph = []
            if line.startswith("|") and not fenced:
                units.append((number, line))
            continue
        if not paragraph:
            start = number
        paragraph.append(line.strip())
    if paragraph:
        units.append((start, " ".join(paragraph)))
    return units


def _run(record):
    return record["_file"], record["date"]


def check_figures(markdown: str, records, external=None) -> list:
    """Returns one line per figure of `markdown` not found in (or computed from) `records`.

    Args:
      markdown: the text to check.
      records: result lines (dicts as in benchmarks/results.py), each with a `_file` key naming
        the file it was read from.
      external: {figure text as printed: its source} for figures that are not our measurements.

    Returns:
      Problems, each "line N: <figure>: <why>"; empty when every figure is backed.
    """
    external = external or {}

    def median_records(figure_text):
        figure = parse_figure(figure_text)
        return [record for record in records if figure.matches(record["examples_per_second"]["median"])]

    problems, tied_ratios, range_ratios = [], set(), []
    for line, text in _units(markdown):
        spread_problems, spreads = _check_spreads(text, records)
        problems += [f"line {line}: {problem}" for problem in spread_problems]
        for match in [*_THROUGHPUT.finditer(text), *_COMPARISON.finditer(text)]:
            for figure in match.groups():
                if figure.strip("*") not in external and not median_records(figure):
                    problems.append(f"line {line}: {figure} in '{match.group(0)}': no result line has this median")
        ratio_problems, tied, ranged = _check_ratios(text, spreads, median_records, external)
        problems += [f"line {line}: {problem}" for problem in ratio_problems]
        tied_ratios |= tied
        range_ratios += [(line, ratio) for ratio in ranged]
    for line, ratio in range_ratios:
        if ratio not in tied_ratios:
            problems.append(f"line {line}: {ratio}x in a range: no ratio tied to data elsewhere has this value")
    return problems


def _check_spreads(text, records):
    """(problems, [(end, matching records)] per spread) for the spreads of one row or paragraph."""
    problems, spreads = [], []
    for match in _SPREAD.finditer(text):
        median, low, high = (parse_figure(group) for group in match.groups())
        found = [record for record in records
                 if median.matches(record["examples_per_second"]["median"])
                 and low.matches(record["examples_per_second"]["min"])
                 and high.matches(record["examples_per_second"]["max"])]
        if not low.value <= median.value <= high.value:
            problems.append(f"{match.group(0)}: the printed range leaves out its median")
        elif not found:
            problems.append(f"{match.group(0)}: no result line has this median and min-max")
        spreads.append((match.end(), found))
    for match in _SPREAD_THEN_PERCENT.finditer(text):
        percent = parse_figure(match.group(4))
        # The spread this percentage follows: it ends at the ")" right after its max.
        found = next((found for end, found in spreads if end == match.end(3) + 1), [])
        if not any(record["mfu"] is not None and percent.matches(100 * record["mfu"]) for record in found):
            problems.append(f"{match.group(4)}% after {match.group(1)}: not that line's MFU")
    return problems, spreads


def _check_ratios(text, spreads, median_records, external):
    """(problems, ratios tied to data, ratios that are ends of a range) for one row or paragraph."""
    problems, tied = [], set()
    anchored = {match.start(1): match.groups() for match in _ANCHORED_RATIO.finditer(text)}
    range_ends = {}  # Start -> ratio, for both ends of each `R1-R2x`.
    for match in _RATIO_RANGE.finditer(text):
        range_ends.update({match.start(1): match.group(1), match.start(2): match.group(2)})
    for match in _RATIO.finditer(text):
        ratio = match.group(1)
        if match.group(0) in external or match.start(1) in range_ends:
            continue
        if match.start(1) in anchored:
            _, numerator, denominator = anchored[match.start(1)]
            if _ratio_of_one_run(float(ratio), numerator, denominator, median_records, external):
                tied.add(ratio)
            else:
                problems.append(f"{ratio}x ({numerator} vs {denominator}): no two lines of one run have "
                                f"these medians and this ratio")
        elif any(abs(record.get("speedup_of_tapecraft", -1) - float(ratio)) <= _RATIO_TOLERANCE
                 for record in _nearest_before(spreads, match.start())):
            tied.add(ratio)
        elif spreads:
            problems.append(f"{ratio}x: not the speedup_of_tapecraft of the result line before it in this row")
        else:
            problems.append(f"{ratio}x: not tied to data; write it as {ratio}x (A vs B) with A and B "
                            f"medians of one run")
    return problems, tied, list(range_ends.values())


def _nearest_before(spread_ends, position):
    """The records of the last spread that ends before `position` (a table's ratio follows its spread)."""
    before = [found for end, found in spread_ends if end <= position]
    return before[-1] if before else []


def _ratio_of_one_run(ratio, numerator, denominator, median_records, external):
    """Whether medians matching `numerator` and `denominator` (of one run, or one of them external)
    have `ratio` as their quotient."""
    def candidates(text):
        if text.strip("*") in external:
            return [(None, parse_figure(text).value)]
        return [(record, record["examples_per_second"]["median"]) for record in median_records(text)]

    for top_record, top in candidates(numerator):
        for bottom_record, bottom in candidates(denominator):
            same_run = top_record is None or bottom_record is None or _run(top_record) == _run(bottom_record)
            if same_run and top_record is not bottom_record and abs(top / bottom - ratio) <= _RATIO_TOLERANCE + 1e-9:
                return True
    return False
