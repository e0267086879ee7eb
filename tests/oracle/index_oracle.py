#!/usr/bin/python3
"""Oracle: the index ckptconv builds must equal what Python torch.load sees.

    /usr/bin/python3 tests/oracle/index_oracle.py build/bin/ckptconv tests/corpus

For every readable corpus file, compares (root path, key, dtype, shape) of
every tensor, and the non-tensor top-level entries, between
`ckptconv inspect --json` and torch.load (or a plain reading of the
safetensors header). Prints one line per file and 'N passed, N failed'.
"""
import collections
import glob
import json
import os
import struct
import subprocess
import sys

import torch

from oracle_cases import run_cases

DTYPES = {torch.float64: "f64", torch.float32: "f32", torch.float16: "f16", torch.bfloat16: "bf16",
          torch.int64: "i64", torch.int32: "i32", torch.int16: "i16", torch.int8: "i8", torch.uint8: "u8",
          torch.bool: "bool"}
ST_DTYPES = {"F64": "f64", "F32": "f32", "F16": "f16", "BF16": "bf16", "I64": "i64", "I32": "i32", "I16": "i16",
             "I8": "i8", "U8": "u8", "BOOL": "bool"}


def join(parent, key):
    return key if parent == "" else f"{parent}.{key}"


def torch_tensors(obj, path="", out=None):
    """(root, key, dtype, shape) for every tensor, with ckptconv's root naming rules."""
    out = [] if out is None else out
    if isinstance(obj, torch.Tensor):
        out.append(("", "tensor", DTYPES[obj.dtype], list(obj.shape)))
    elif isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(v, torch.Tensor):
                out.append((path, str(k), DTYPES[v.dtype], list(v.shape)))
        for k, v in obj.items():
            if isinstance(v, (dict, list, tuple)):
                torch_tensors(v, join(path, str(k)), out)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            if isinstance(v, torch.Tensor):
                out.append((path, str(i), DTYPES[v.dtype], list(v.shape)))
        for i, v in enumerate(obj):
            if isinstance(v, (dict, list, tuple)):
                torch_tensors(v, join(path, str(i)), out)
    return out


def safetensors_tensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n), object_pairs_hook=collections.OrderedDict)
    return [("", k, ST_DTYPES[v["dtype"]], v["shape"]) for k, v in header.items() if k != "__metadata__"]


def ckptconv_tensors(cli, path):
    r = subprocess.run([cli, "inspect", "--json", path], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"ckptconv exited {r.returncode}: {r.stderr.strip()}")
    j = json.loads(r.stdout)
    return [(t["root"], t["key"], t["dtype"], t["shape"]) for t in j["tensors"]], j


def main():
    cli, corpus = sys.argv[1], sys.argv[2]
    samples = os.path.join(corpus, "..", "..", "samples")
    files = sorted(glob.glob(f"{corpus}/torch/*.pt") + glob.glob(f"{corpus}/cogvideox_sat/*/*.pt") +
                   glob.glob(f"{corpus}/safetensors/*.safetensors") + glob.glob(f"{samples}/*.pt"))
    def check(path):
        obj = None
        if path.endswith(".safetensors"):
            expected = safetensors_tensors(path)
        else:
            obj = torch.load(path, map_location="cpu")
            expected = torch_tensors(obj)
        got, j = ckptconv_tensors(cli, path)
        if expected != got:
            missing = [e for e in expected if e not in got][:3]
            extra = [g for g in got if g not in expected][:3]
            raise AssertionError(f"tensor lists differ (order or content); torch only: {missing}; ckptconv only: {extra}")
        if isinstance(obj, dict):
            top_extras = {k for k, v in obj.items() if not isinstance(v, (torch.Tensor, dict, list, tuple))}
            listed = {e["path"] for e in j["extras"]}
            if not top_extras <= listed:
                raise AssertionError(f"non-tensor entries missing from extras: {sorted(top_extras - listed)}")

    return run_cases([(os.path.relpath(p, corpus), lambda p=p: check(p)) for p in files])

if __name__ == "__main__":
    sys.exit(main())
