"""Every ratio and examples/s figure benchmarks/RESULTS.md quotes comes from benchmarks/results/*.jsonl.

The rule (README, benchmarks/RESULTS.md): a number in the docs is computed at run time or comes with
its command and the result line it came from. `benchmarks.quoted_figures` says which figures are
read and the rounding they may carry; the tests below also check that it catches a hand edit, and
that each command RESULTS.md quotes is the `command` of the lines in the file it names.
"""

import glob
import os

import pytest

from benchmarks.quoted_figures import check_figures, parse_figure
from benchmarks.results import read_results

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RESULTS_MD = os.path.join(ROOT, "benchmarks", "RESULTS.md")

# Figures RESULTS.md quotes that are not our measurements, with where they come from.
EXTERNAL = {
    "654": "PyTorch eager, CIFAR CNN float32: issue 4's table, measured before tapecraft existed",
    "1,264": "PyTorch bfloat16, CIFAR CNN: issue 4's table",
    "34.0k": "PyTorch eager, MLP float32: issue 4's table",
    "48.2k": "PyTorch bfloat16, MLP: issue 4's table",
    "1.45x": "issue 4's target for the CIFAR CNN in bfloat16, not a measurement",
}


def _records():
    records = []
    for path in sorted(glob.glob(os.path.join(ROOT, "benchmarks", "results", "*.jsonl"))):
        records += [dict(record, _file=os.path.basename(path)) for record in read_results(path)]
    return records


def _record(file, date, median, low, high, speedup=None, mfu=None):
    record = {"_file": file, "date": date, "mfu": mfu,
              "examples_per_second": {"median": median, "min": low, "max": high}}
    if speedup is not None:
        record["speedup_of_tapecraft"] = speedup
    return record


RUN = [_record("a.jsonl", "d1", 709.4, 662.5, 716.1, speedup=1.0, mfu=0.7154),
       _record("a.jsonl", "d1", 11.72, 11.52, 12.81),
       _record("a.jsonl", "d1", 551.0, 532.2, 555.1, speedup=709.4 / 551.0, mfu=0.5564),
       _record("b.jsonl", "d2", 44348.7, 39175.1, 48450.3)]


def test_every_figure_of_results_md_is_in_a_result_line():
    with open(RESULTS_MD, encoding="utf-8") as markdown:
        problems = check_figures(markdown.read(), _records(), EXTERNAL)
    assert not problems, "RESULTS.md quotes figures no result line backs:\n" + "\n".join(problems)


def test_the_figures_training_jit_explains_auto_with_are_in_result_lines():
    import training.jit

    assert "1.14x" in training.jit.__doc__  # The docstring still quotes its figures.
    assert check_figures(training.jit.__doc__, _records()) == []


def test_every_command_writing_a_results_file_wrote_lines_there():
    # A command quoted above a table is the one that produced its lines: same flags, same file.
    with open(RESULTS_MD, encoding="utf-8") as markdown:
        text = markdown.read().replace("\\\n", " ")
    commands = [" ".join(line.split()) for line in text.splitlines()
                if line.startswith("    python -m benchmarks.") and "--output=benchmarks/results/" in line]
    assert len(commands) >= 8  # compare x3, throughput x2, jit x2, input_pipeline x2, op_profile x2.
    recorded = {record["command"] for record in _records()}
    for command in commands:
        output = command.split("--output=")[1].split()[0]
        if os.path.exists(os.path.join(ROOT, output)):
            assert command in recorded, f"RESULTS.md quotes a command no line of {output} was written by: {command}"


def test_rounding_is_to_the_digits_shown():
    assert parse_figure("44.3k").value == 44300 and parse_figure("44.3k").half_unit == 50
    assert parse_figure("1,101").matches(1100.6) and not parse_figure("1,101").matches(1101.6)
    assert parse_figure("6.3").matches(6.26) and not parse_figure("6.3").matches(6.36)


@pytest.mark.parametrize("text", [
    "| tapecraft | **709** (662-716) | 71.5% |",
    "| fit | 551 (532-555) | 55.6% | **1.29x** |",
    "The loop is **1.29x** (709 vs 551) faster, at 44.3k examples/s; 1.29-1.29x.",
    "Against PyTorch: 0.56x (709 vs 1,264).",
])
def test_backed_figures_pass(text):
    assert check_figures(text, RUN, {"1,264": "elsewhere"}) == []


@pytest.mark.parametrize("text, complaint", [
    ("| tapecraft | **710** (662-716) | 71.5% |", "no result line has this median and min-max"),
    ("| tapecraft | **709** (662-717) | 71.5% |", "no result line has this median and min-max"),
    ("| tapecraft | **709** (662-716) | 71.6% |", "not that line's MFU"),
    # Rounded to whole numbers, 11.7 (11.5-12.8) would print as 11.7 (12-13): a range without its median.
    ("| resnet50 | 11.7 (12-13) |", "leaves out its median"),
    ("| fit | 551 (532-555) | 55.6% | **1.30x** |", "not the speedup_of_tapecraft"),
    # Each ratio cell belongs to the spread before it: swapped, both are wrong.
    ("| two runs | 709 (662-716) | 1.30x | 551 (532-555) | 1.00x |", "not the speedup_of_tapecraft"),
    ("The loop is **1.30x** (709 vs 551) faster.", "no two lines of one run"),
    ("The loop is **1.29x** (709 vs 552) faster.", "no result line has this median"),
    ("The loop runs at 44.4k examples/s.", "no result line has this median"),
    ("The loop is 1.29x faster.", "not tied to data"),
    # Medians of two different runs are not one comparison.
    ("Across runs: 62.52x (44.3k vs 709).", "no two lines of one run"),
    ("Between 1.29x (709 vs 551) and 1.31-1.29x.", "in a range"),
    ("PyTorch reaches 1,265 examples/s.", "no result line has this median"),
])
def test_a_figure_edited_by_hand_is_caught(text, complaint):
    problems = check_figures(text, RUN, {"1,264": "elsewhere"})
    assert any(complaint in problem for problem in problems), problems


def test_code_blocks_are_not_read():
    assert check_figures("    python -m x --steps=7 vs 9 examples/s\n\n```\n3.14x\n```\n", RUN) == []
