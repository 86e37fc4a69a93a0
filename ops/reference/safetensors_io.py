"""Minimal, dependency-free reader and writer for the safetensors format.

Design
------
The `safetensors` Python package is not available here, and the format is small
enough to implement directly:

    [8 bytes]  little-endian u64 N = length of the JSON header
    [N bytes]  UTF-8 JSON object: {"name": {"dtype": "F32"|"BF16"|...,
                                             "shape": [...],
                                             "data_offsets": [begin, end]},
                                    ..., "__metadata__": {str: str}}   (optional)
    [rest]     raw tensor bytes; data_offsets are relative to the start of this
               region, little-endian, row-major (C order).

The writer lays tensors out in the order given, back to back, and pads the header
with spaces to a multiple of 8 bytes (as the reference implementation does) so that
the data region is aligned. Output is deterministic: the same tensors give the same
bytes.

BF16 is stored as the upper 16 bits of the fp32 value after round-to-nearest-even
(NaN stays a quiet NaN). Reading BF16 yields fp32 (the bf16 value upcast exactly).

Every input is validated: a malformed header, an unknown dtype, offsets that do not
match shape x dtype size, overlapping or out-of-range data, all raise ValueError.
"""

import json
import os
import struct

import numpy as np

# dtype name -> (numpy dtype used for storage, bytes per element)
_DTYPES = {
    "F64": (np.dtype("<f8"), 8),
    "F32": (np.dtype("<f4"), 4),
    "F16": (np.dtype("<f2"), 2),
    "BF16": (np.dtype("<u2"), 2),  # raw bits; converted to fp32 on read
    "I64": (np.dtype("<i8"), 8),
    "I32": (np.dtype("<i4"), 4),
    "I16": (np.dtype("<i2"), 2),
    "I8": (np.dtype("i1"), 1),
    "U8": (np.dtype("u1"), 1),
    "BOOL": (np.dtype("u1"), 1),
}

_MAX_HEADER = 100 * 1024 * 1024


def fp32_to_bf16_bits(a):
    """fp32 array -> uint16 array of bf16 bits, round-to-nearest-even; NaN -> quiet NaN."""
    a = np.ascontiguousarray(a, dtype=np.float32)
    u = a.view(np.uint32).astype(np.uint64)
    rounding = ((u >> 16) & 1) + 0x7FFF
    r = ((u + rounding) >> 16) & 0xFFFF
    nan = np.isnan(a)
    if nan.any():
        r = np.where(nan, ((u >> 16) | 0x0040) & 0xFFFF, r)
    return r.astype(np.uint16)


def bf16_bits_to_fp32(b):
    """uint16 array of bf16 bits -> fp32 array (exact)."""
    b = np.ascontiguousarray(b, dtype=np.uint16)
    return (b.astype(np.uint32) << 16).view(np.float32)


def round_to_bf16(a):
    """fp32 array rounded to the nearest bf16 value, returned as fp32."""
    return bf16_bits_to_fp32(fp32_to_bf16_bits(a))


def _to_numpy(t):
    """Accept numpy arrays or torch tensors (duck-typed, torch is not imported here)."""
    if isinstance(t, np.ndarray):
        return t
    if hasattr(t, "detach") and hasattr(t, "numpy"):
        return t.detach().cpu().contiguous().numpy()
    raise ValueError("unsupported tensor type %r" % type(t))


def save(path, tensors, dtype="F32", metadata=None):
    """Write `tensors` (ordered dict name -> numpy array / torch tensor, float) to `path`.

    dtype is the on-disk dtype for floating tensors: "F32" or "BF16" (or "F16").
    metadata: optional dict str -> str stored under __metadata__.
    """
    if dtype not in ("F32", "BF16", "F16"):
        raise ValueError("save: unsupported on-disk float dtype %r" % (dtype,))
    header = {}
    if metadata is not None:
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            raise ValueError("save: __metadata__ must map str to str")
        header["__metadata__"] = dict(metadata)
    blobs = []
    off = 0
    for name, t in tensors.items():
        if not isinstance(name, str) or not name or name == "__metadata__":
            raise ValueError("save: bad tensor name %r" % (name,))
        a = _to_numpy(t)
        if a.dtype.kind != "f":
            raise ValueError("save: tensor %s is not floating point (%s)" % (name, a.dtype))
        a = np.ascontiguousarray(a, dtype=np.float32)
        if dtype == "F32":
            raw = a.astype("<f4").tobytes()
        elif dtype == "BF16":
            raw = fp32_to_bf16_bits(a).astype("<u2").tobytes()
        else:
            raw = a.astype("<f2").tobytes()
        header[name] = {"dtype": dtype, "shape": list(a.shape),
                        "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    pad = (8 - len(hjson) % 8) % 8
    hjson += b" " * pad
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for raw in blobs:
            f.write(raw)
    os.replace(tmp, path)


def read_header(path):
    """Return (header dict without __metadata__, metadata dict, data start offset, file size)."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) != 8:
            raise ValueError("%s: too short for a safetensors file" % path)
        (n,) = struct.unpack("<Q", head)
        if n == 0 or n > _MAX_HEADER or 8 + n > size:
            raise ValueError("%s: bad header length %d (file size %d)" % (path, n, size))
        raw = f.read(n)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError("%s: header is not valid UTF-8 JSON: %s" % (path, e))
    if not isinstance(header, dict):
        raise ValueError("%s: header is not a JSON object" % path)
    meta = header.pop("__metadata__", None) or {}
    if not isinstance(meta, dict):
        raise ValueError("%s: __metadata__ is not an object" % path)
    data_start = 8 + n
    data_len = size - data_start
    spans = []
    for name, info in header.items():
        if not isinstance(info, dict):
            raise ValueError("%s: entry %s is not an object" % (path, name))
        dt = info.get("dtype")
        shape = info.get("shape")
        offs = info.get("data_offsets")
        if dt not in _DTYPES:
            raise ValueError("%s: tensor %s has unsupported dtype %r" % (path, name, dt))
        if (not isinstance(shape, list) or
                not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)):
            raise ValueError("%s: tensor %s has bad shape %r" % (path, name, shape))
        if (not isinstance(offs, list) or len(offs) != 2 or
                not all(isinstance(o, int) and not isinstance(o, bool) for o in offs)):
            raise ValueError("%s: tensor %s has bad data_offsets %r" % (path, name, offs))
        b, e = offs
        nel = 1
        for d in shape:
            nel *= d
        if not (0 <= b <= e <= data_len) or e - b != nel * _DTYPES[dt][1]:
            raise ValueError("%s: tensor %s: data_offsets %r do not match shape %r x %s "
                             "within %d data bytes" % (path, name, offs, shape, dt, data_len))
        spans.append((b, e, name))
    spans.sort()
    for (b0, e0, n0), (b1, e1, n1) in zip(spans, spans[1:]):
        if b1 < e0:
            raise ValueError("%s: tensors %s and %s overlap" % (path, n0, n1))
    return header, meta, data_start, size


def load(path):
    """Read a safetensors file. Returns (dict name -> fp32/int numpy array, metadata, dtypes).

    Floating tensors (F64/F32/F16/BF16) are returned as fp32 (BF16 and F16 upcast exactly).
    dtypes maps name -> on-disk dtype string.
    """
    header, meta, data_start, _ = read_header(path)
    out = {}
    dtypes = {}
    with open(path, "rb") as f:
        for name, info in header.items():
            dt = info["dtype"]
            b, e = info["data_offsets"]
            f.seek(data_start + b)
            raw = f.read(e - b)
            if len(raw) != e - b:
                raise ValueError("%s: short read for tensor %s" % (path, name))
            npdt, _ = _DTYPES[dt]
            a = np.frombuffer(raw, dtype=npdt).reshape(info["shape"])
            if dt == "BF16":
                a = bf16_bits_to_fp32(a).reshape(info["shape"])
            elif dt in ("F16", "F64"):
                a = a.astype(np.float32)
            elif dt == "F32":
                a = a.astype(np.float32)  # native-endian copy
            else:
                a = a.copy()
            out[name] = a
            dtypes[name] = dt
    return out, meta, dtypes
