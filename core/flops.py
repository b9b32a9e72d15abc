"""FLOPs of a training step, counted in the HLO that XLA compiles the step to (not a guess by hand).

TensorFlow lowers a `jit_compile=True` function to an HLO module
(`experimental_get_compiler_ir(...)(stage="hlo")`); we count its matrix work the way XLA's
own cost analysis does:
- `dot`: 2 x output elements x contracted elements;
- `convolution`: 2 x batch x input features (per group) x output features x the number of
  (output position, kernel tap) pairs that land inside the input. Taps in the padding are not
  counted, so a 3x3 "same" convolution on a 4x4 map counts 100 of its 144 taps.
Elementwise work (activations, normalization, the optimizer) is left out, as in the usual
definition of MFU: it is small next to the matrix work and runs far below the matmul peak.

Instructions whose results nothing uses are dropped first (the unoptimized module still holds,
e.g., the gradient with respect to the input images); `while` bodies count once.
"""

import math
import re

import tensorflow as tf

_COMPUTATION_HEADER = re.compile(r"^(ENTRY\s+)?%(?P<name>[\w.\-]+)\s.*\{\s*$")
_INSTRUCTION = re.compile(r"^\s*(?P<root>ROOT\s+)?%(?P<name>[\w.\-]+)\s*=\s*(?P<rest>.*)$")
_ARRAY_SHAPE = re.compile(r"^[a-z]+\d*\[(?P<dims>[\d,]*)\]")
_REFERENCE = re.compile(r"%([\w.\-]+)")


def step_flops(step_function, *args) -> int:
    """FLOPs of one call of `step_function(*args)` (per replica: pass one replica's batch).

    Traces the function with XLA to get its HLO; nothing runs and no variable changes.
    """
    compiled = tf.function(step_function, jit_compile=True)
    return hlo_flops(compiled.experimental_get_compiler_ir(*args)(stage="hlo"))


def hlo_flops(hlo_text: str) -> int:
    """Sums dot and convolution FLOPs over the live instructions of an HLO module's text."""
    computations, entry = _parse_module(hlo_text)
    total = 0
    for computation, name in _live_instructions(computations, entry):
        shape, opcode, operands, attributes = computations[computation]["instructions"][name]
        if opcode in ("dot", "convolution"):
            instructions = computations[computation]["instructions"]
            operand_shapes = [instructions[operand][0] for operand in operands[:2]]
            count = _dot_flops if opcode == "dot" else _convolution_flops
            total += count(shape, operand_shapes, attributes)
    return total


def _parse_module(hlo_text):
    """Returns ({computation: {"root": name, "instructions": {name: parts}}}, entry name)."""
    computations, entry, current = {}, None, None
    for line in hlo_text.splitlines():
        header = _COMPUTATION_HEADER.match(line.strip())
        if header and "=" not in line.split("(")[0]:
            current = header.group("name")
            computations[current] = {"root": None, "instructions": {}}
            if header.group(1):
                entry = current
            continue
        instruction = _INSTRUCTION.match(line)
        if instruction and current is not None:
            name = instruction.group("name")
            computations[current]["instructions"][name] = _split_instruction(instruction.group("rest"))
            if instruction.group("root"):
                computations[current]["root"] = name
    return computations, entry


def _split_instruction(rest):
    """'f32[4,8]{1,0} dot(f32[4,3] %a, ...), lhs_contracting_dims={1}' -> (shape, opcode, operands, attrs)."""
    depth, index = 0, 0
    for index, character in enumerate(rest):  # The shape may be a tuple with spaces inside.
        depth += character in "([{"
        depth -= character in ")]}"
        if character == " " and depth == 0:
            break
    shape, call = rest[:index], rest[index + 1:]
    opcode, _, arguments = call.partition("(")
    depth = 1
    for index, character in enumerate(arguments):
        depth += character == "("
        depth -= character == ")"
        if depth == 0:
            break
    operands = _REFERENCE.findall(arguments[:index])
    return _array_dims(shape), opcode.strip(), operands, arguments[index + 1:]


def _array_dims(shape):
    match = _ARRAY_SHAPE.match(shape)
    if match is None:
        return None  # A tuple or token shape.
    return [int(size) for size in match.group("dims").split(",") if size]


def _live_instructions(computations, entry):
    """Instructions reachable from the entry's ROOT, following operands and called computations."""
    live, pending = [], [(entry, computations[entry]["root"])]
    seen = set()
    while pending:
        computation, name = pending.pop()
        if (computation, name) in seen:
            continue
        seen.add((computation, name))
        live.append((computation, name))
        _, _, operands, attributes = computations[computation]["instructions"][name]
        for reference in operands + _REFERENCE.findall(attributes):
            if reference in computations[computation]["instructions"]:
                pending.append((computation, reference))
            elif reference in computations:
                pending.append((reference, computations[reference]["root"]))
    return live


def _dimension_list(attributes, key):
    match = re.search(key + r"=\{([\d,]*)\}", attributes)
    return [int(size) for size in match.group(1).split(",") if size] if match else []


def _dot_flops(output_dims, operand_dims, attributes):
    contracting_axes = _dimension_list(attributes, "lhs_contracting_dims")
    contracted = math.prod(operand_dims[0][axis] for axis in contracting_axes)
    return 2 * math.prod(output_dims) * contracted


def _convolution_flops(output_dims, operand_dims, attributes):
    lhs_dims, rhs_dims = operand_dims
    lhs_labels, rhs_labels, output_labels = re.search(r"dim_labels=(\w+)_(\w+)->(\w+)", attributes).groups()
    window = _parse_window(attributes, spatial_count=len(lhs_labels) - 2)
    valid_taps = 1
    for axis, label in enumerate(sorted(label for label in lhs_labels if label.isdigit())):
        valid_taps *= _valid_taps(
            input_size=lhs_dims[lhs_labels.index(label)], output_size=output_dims[output_labels.index(label)],
            **{key: values[axis] for key, values in window.items()})
    batch_groups = int((re.search(r"batch_group_count=(\d+)", attributes) or [None, 1])[1])
    multiply_adds = (lhs_dims[lhs_labels.index("b")] // batch_groups) * rhs_dims[rhs_labels.index("i")] \
        * rhs_dims[rhs_labels.index("o")] * valid_taps
    return 2 * multiply_adds


def _parse_window(attributes, spatial_count):
    """window={size=3x3 pad=1_1x1_1 stride=2x2 lhs_dilate=.. rhs_dilate=..} -> per-axis lists."""
    text = re.search(r"window=\{([^}]*)\}", attributes)
    fields = dict(item.split("=") for item in text.group(1).split()) if text else {}

    def per_axis(key, default):
        if key not in fields:
            return [default] * spatial_count
        return [int(value) for value in fields[key].split("x")]

    pads = [int(pair.split("_")[0]) for pair in fields["pad"].split("x")] if "pad" in fields else None
    pads = pads or [0] * spatial_count
    return {"size": per_axis("size", 1), "stride": per_axis("stride", 1), "padding_low": pads,
            "input_dilation": per_axis("lhs_dilate", 1), "kernel_dilation": per_axis("rhs_dilate", 1)}


def _valid_taps(input_size, output_size, size, stride, padding_low, input_dilation, kernel_dilation):
    """(output position, kernel tap) pairs along one axis whose input index is a real element."""
    count = 0
    for tap in range(size):
        for position in range(output_size):
            dilated = position * stride - padding_low + tap * kernel_dilation
            if dilated % input_dilation == 0 and 0 <= dilated // input_dilation < input_size:
                count += 1
    return count
