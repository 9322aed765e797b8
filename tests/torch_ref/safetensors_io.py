"""Tiny pure-Python safetensors reader/writer (no `safetensors` package needed).

File layout (https://github.com/huggingface/safetensors):
  8 bytes   little-endian u64 N = length of the JSON header
  N bytes   UTF-8 JSON: {"__metadata__": {str: str}  (optional),
                         name: {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...}
            padded with trailing spaces so that 8 + N is a multiple of 8
  rest      raw little-endian tensor data; offsets are relative to the start of this
            section, tensors are packed without holes and together cover it exactly.

The writer is deterministic: tensors are laid out ordered by (descending item size,
name) -- the same rule as the reference Rust implementation, which keeps every tensor
naturally aligned -- the header is compact JSON with "__metadata__" first and the
tensors in data order, and the file is written to a temporary name then renamed.

Tensors may be given as torch tensors or numpy arrays; `load` returns torch tensors
when torch is importable (as_numpy=False) and numpy arrays otherwise.
"""
import json
import os
import struct

import numpy as np

# safetensors dtype string -> little-endian numpy dtype
_DTYPES = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"),
    "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}
_NP_TO_ST = {v.newbyteorder("<") if v.itemsize > 1 else v: k for k, v in _DTYPES.items()}


def _to_numpy(x):
    if isinstance(x, np.ndarray):
        return x
    try:  # torch tensor
        return x.detach().cpu().contiguous().numpy()
    except AttributeError:
        return np.asarray(x)


def _st_dtype(arr):
    dt = arr.dtype.newbyteorder("<") if arr.dtype.itemsize > 1 else arr.dtype
    if dt not in _NP_TO_ST:
        raise TypeError(f"unsupported dtype {arr.dtype}")
    return _NP_TO_ST[dt]


def serialize(tensors, metadata=None):
    """Return the bytes of a safetensors file holding `tensors` (dict name -> array)."""
    arrays = {}
    for name, t in tensors.items():
        if not isinstance(name, str) or name == "__metadata__":
            raise ValueError(f"bad tensor name {name!r}")
        a = _to_numpy(t)
        st = _st_dtype(a)
        arrays[name] = (st, np.array(a, dtype=_DTYPES[st], order="C", copy=True))  # keeps 0-d shapes
    order = sorted(arrays, key=lambda n: (-arrays[n][1].dtype.itemsize, n))
    header = {}
    if metadata:
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise TypeError("metadata must map str -> str")
        header["__metadata__"] = dict(sorted(metadata.items()))
    chunks, off = [], 0
    for name in order:
        st, a = arrays[name]
        b = a.tobytes(order="C")
        header[name] = {"dtype": st, "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        chunks.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":"), ensure_ascii=True).encode("utf-8")
    h += b" " * ((-(8 + len(h))) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(chunks)


def save(path, tensors, metadata=None):
    """Write `tensors` (dict name -> torch tensor / numpy array) to `path` atomically."""
    data = serialize(tensors, metadata)
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def parse(data, as_numpy=False):
    """Parse safetensors bytes -> (dict name -> tensor, metadata dict or None)."""
    if len(data) < 8:
        raise ValueError("file too short for a safetensors header")
    (n,) = struct.unpack("<Q", data[:8])
    if 8 + n > len(data):
        raise ValueError(f"header length {n} exceeds file size {len(data)}")
    header = json.loads(data[8:8 + n].decode("utf-8"))
    if not isinstance(header, dict):
        raise ValueError("header is not a JSON object")
    metadata = header.pop("__metadata__", None)
    body = memoryview(data)[8 + n:]
    spans, out = [], {}
    for name, info in header.items():
        st = info["dtype"]
        if st not in _DTYPES:
            raise ValueError(f"{name}: unsupported dtype {st}")
        dt = _DTYPES[st]
        shape = [int(s) for s in info["shape"]]
        b, e = (int(x) for x in info["data_offsets"])
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if not (0 <= b <= e <= len(body)) or e - b != count * dt.itemsize:
            raise ValueError(f"{name}: bad data_offsets {b},{e} for {st}{shape}")
        spans.append((b, e))
        out[name] = np.frombuffer(body[b:e], dtype=dt).reshape(shape).copy()
    spans.sort()
    pos = 0
    for b, e in spans:
        if b != pos:
            raise ValueError("tensor data has holes or overlaps")
        pos = e
    if pos != len(body):
        raise ValueError("tensor data does not cover the data section")
    if not as_numpy:
        try:
            import torch
            out = {k: torch.from_numpy(v) for k, v in out.items()}
        except ImportError:
            pass
    return out, metadata


def load(path, as_numpy=False):
    """Read a safetensors file -> (dict name -> tensor, metadata dict or None)."""
    with open(path, "rb") as f:
        return parse(f.read(), as_numpy=as_numpy)
