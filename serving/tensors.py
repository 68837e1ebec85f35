"""The Open Inference Protocol's binary tensor data extension, as Triton's clients send it.

With the extension a request is a JSON header of ``Inference-Header-Content-Length`` bytes
followed by the raw bytes of every input whose ``parameters`` carry a ``binary_data_size``,
in the order the inputs are listed: little-endian numbers, one byte a boolean, and each
string of a ``BYTES`` tensor as a 4-byte little-endian length then its bytes. Triton's HTTP
client sends its tensors this way by default and asks for the outputs the same way
(``binary_data_output``). Pure functions: the route reads the body and writes the answer.

Errors are :class:`TensorError` with a reason that names the tensor, never its values.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson

HEADER = "inference-header-content-length"
"""The request and response header that gives the JSON part's length in bytes."""

NUMERIC = {
    "BOOL": "?",
    "INT8": "<i1",
    "INT16": "<i2",
    "INT32": "<i4",
    "INT64": "<i8",
    "UINT8": "<u1",
    "UINT16": "<u2",
    "UINT32": "<u4",
    "UINT64": "<u8",
    "FP16": "<f2",
    "FP32": "<f4",
    "FP64": "<f8",
}
"""Each fixed-width datatype of the protocol and its little-endian NumPy type."""


class TensorError(ValueError):
    """A binary body that does not follow the extension; the message says where."""


def split_body(body: bytes, header_length: str) -> tuple[dict[str, Any], bytes]:
    """The JSON header and the binary part of a body sent with the extension."""
    if not header_length.isdigit() or int(header_length) > len(body):
        raise TensorError(f"{HEADER} must be a byte count within the body's {len(body)} bytes")
    size = int(header_length)
    try:
        header = orjson.loads(body[:size])
    except orjson.JSONDecodeError:
        raise TensorError(f"the first {size} bytes ({HEADER}) are not JSON") from None
    if not isinstance(header, dict):
        raise TensorError("the JSON header must be an object")
    return header, body[size:]


def attach_binary(header: dict[str, Any], binary: bytes) -> dict[str, Any]:
    """``header`` with each binary input's ``data`` decoded from ``binary``, in order; the
    sizes must account for every byte."""
    inputs = header.get("inputs")
    if not isinstance(inputs, list):
        return header  # the route's own check names what is missing
    offset = 0
    for tensor in inputs:
        parameters = tensor.get("parameters") if isinstance(tensor, dict) else None
        size = parameters.get("binary_data_size") if isinstance(parameters, dict) else None
        if size is None:
            continue
        name = str(tensor.get("name"))[:100]
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise TensorError(f"input {name!r}: binary_data_size must be a byte count")
        if offset + size > len(binary):
            raise TensorError(f"input {name!r}: binary_data_size runs past the body's end")
        tensor["data"] = decode(binary[offset : offset + size], tensor.get("datatype"), name)
        offset += size
    if offset != len(binary):
        raise TensorError(f"{len(binary) - offset} bytes of binary data belong to no input")
    return header


def decode(raw: bytes, datatype: Any, name: str) -> list[Any]:
    """One tensor's values from its raw bytes, flattened (the shape is checked by the route)."""
    if datatype == "BYTES":
        return [b.decode("utf-8", errors="replace") for b in _strings(raw, name)]
    dtype = NUMERIC.get(datatype) if isinstance(datatype, str) else None
    if dtype is None:
        raise TensorError(f"input {name!r}: datatype {str(datatype)[:20]!r} is not a tensor type")
    width = np.dtype(dtype).itemsize
    if len(raw) % width:
        raise TensorError(f"input {name!r}: {len(raw)} bytes is not a whole number of {datatype}")
    values: list[Any] = np.frombuffer(raw, dtype=dtype).tolist()
    return values


def _strings(raw: bytes, name: str) -> list[bytes]:
    out, offset = [], 0
    while offset < len(raw):
        if offset + 4 > len(raw):
            raise TensorError(f"input {name!r}: a BYTES element's length is cut short")
        (size,) = struct.unpack_from("<I", raw, offset)
        offset += 4
        if offset + size > len(raw):
            raise TensorError(f"input {name!r}: a BYTES element runs past its tensor")
        out.append(raw[offset : offset + size])
        offset += size
    return out


def encode(values: Sequence[Any], datatype: str) -> bytes:
    """The raw bytes of one output tensor."""
    if datatype == "BYTES":
        parts = [str(v).encode() for v in values]
        return b"".join(struct.pack("<I", len(p)) + p for p in parts)
    return np.asarray(values, dtype=NUMERIC[datatype]).tobytes()


def wants_binary(payload: dict[str, Any], name: str) -> bool:
    """Whether the request asked for output ``name`` as binary data: per output
    (``outputs[].parameters.binary_data``), else for all (``parameters.binary_data_output``)."""
    for output in payload.get("outputs") or ():
        if isinstance(output, dict) and output.get("name") == name:
            parameters = output.get("parameters")
            if isinstance(parameters, dict) and "binary_data" in parameters:
                return parameters["binary_data"] is True
    parameters = payload.get("parameters")
    return isinstance(parameters, dict) and parameters.get("binary_data_output") is True


def pack(answer: dict[str, Any], binary: dict[str, bytes]) -> tuple[bytes, int | None]:
    """The response body: JSON alone, or the JSON header then the ``binary`` outputs (by
    name, in the order of ``answer["outputs"]``) with the header's length to send."""
    if not binary:
        return orjson.dumps(answer), None
    tail = []
    for output in answer["outputs"]:
        raw = binary.get(output["name"])
        if raw is not None:
            output.pop("data", None)
            output["parameters"] = {"binary_data_size": len(raw)}
            tail.append(raw)
    header = orjson.dumps(answer)
    return header + b"".join(tail), len(header)
