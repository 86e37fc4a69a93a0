#!/usr/bin/env python3
"""prefix_key.py -- an independent implementation of the prompt-slot key (v1).

The byte layout is specified in docs/prompt-cache.md (and engine/include/dllm/prefix_key.h);
this file depends only on the Python standard library (struct, hashlib), so a router or a
producer can copy it. Run it with no arguments to print the golden vectors as JSON
(tests/data/golden/prefix_keys.json is its output); `--check FILE` recomputes the vectors
of FILE and exits 1 on any difference.

SPDX-License-Identifier: Apache-2.0
"""
import hashlib
import json
import struct
import sys


def _str(b):
    if isinstance(b, str):
        b = b.encode("utf-8")
    return struct.pack("<I", len(b)) + b


def encode(model_id, model_revision, tokenizer_sha256_hex, dtype, tp_size, policy,
           kp=0, kr=0, rho=0.0, layer0_refresh=0, cfg_interval=0, salt=b"", tokens=()):
    """The v1 byte encoding of a prefix key's fields."""
    tok = bytes.fromhex(tokenizer_sha256_hex)
    assert len(tok) == 32
    if isinstance(salt, str):
        salt = salt.encode("utf-8")
    assert len(salt) <= 256
    dllm = policy == "dllm"
    out = b"DLLM-PK1" + _str(model_id) + _str(model_revision) + tok + _str(dtype)
    out += struct.pack("<I", tp_size) + _str(policy)
    if dllm:
        out += struct.pack("<iidIi", kp, kr, rho, layer0_refresh, cfg_interval)
    else:
        out += bytes(24)
    out += _str(salt) + struct.pack("<I", len(tokens))
    out += struct.pack("<%di" % len(tokens), *tokens)
    return out


def prefix_key(**fields):
    """Lowercase hex SHA-256 of the encoding."""
    return hashlib.sha256(encode(**fields)).hexdigest()


TOK = hashlib.sha256(b"example tokenizer.json").hexdigest()
CASES = [
    dict(model_id="llada-tiny", model_revision="", tokenizer_sha256_hex=TOK, dtype="f32",
         tp_size=1, policy="none", tokens=[]),
    dict(model_id="llada-tiny", model_revision="r1", tokenizer_sha256_hex=TOK, dtype="f32",
         tp_size=1, policy="dllm", kp=50, kr=7, rho=0.25, layer0_refresh=1, cfg_interval=0,
         tokens=[126080, 198, 1, 2, 3]),
    dict(model_id="llada-tiny", model_revision="r1", tokenizer_sha256_hex=TOK, dtype="f32",
         tp_size=1, policy="dllm", kp=50, kr=7, rho=0.25, layer0_refresh=1, cfg_interval=0,
         salt="tenant-a", tokens=[126080, 198, 1, 2, 3]),
    dict(model_id="GSAI-ML/LLaDA-8B-Instruct", model_revision="08b83a6", tokenizer_sha256_hex=TOK,
         dtype="bf16", tp_size=4, policy="dual", kp=50, kr=7, rho=0.25, layer0_refresh=1,
         salt="t\u00e9nant", tokens=list(range(-1, 300, 7)) + [2**31 - 1]),
]


def vectors():
    out = []
    for c in CASES:
        enc = encode(**c)
        case = dict(c)
        if isinstance(case.get("salt"), bytes):
            case["salt"] = case["salt"].decode("utf-8")
        out.append({"fields": case, "encoding_hex": enc.hex(),
                    "key": hashlib.sha256(enc).hexdigest()})
    return out


def main(argv):
    if len(argv) == 3 and argv[1] == "--check":
        with open(argv[2], encoding="utf-8") as fh:
            want = json.load(fh)
        bad = 0
        for v in want["vectors"]:
            got = prefix_key(**v["fields"])
            if got != v["key"] or encode(**v["fields"]).hex() != v["encoding_hex"]:
                print("mismatch:", v["fields"], got, "!=", v["key"], file=sys.stderr)
                bad += 1
        print("%d vectors, %d mismatches" % (len(want["vectors"]), bad))
        return 1 if bad else 0
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    json.dump({"version": 1, "generator": "ops/clients/prefix_key.py", "vectors": vectors()},
              sys.stdout, indent=1, ensure_ascii=False)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
