#!/usr/bin/python3
"""Oracle: `ckptconv convert --plugin none` must not change a byte of anyone's data.

    /usr/bin/python3 tests/oracle/roundtrip_oracle.py build/bin/ckptconv tests/corpus

For every torch corpus file: our pt output, loaded by Python's torch.load,
equals the input loaded the same way (values bit for bit, dtypes, shapes,
strides, storage offsets, storage sharing, Parameters, OrderedDict
_metadata, and every non-tensor object), and loads with weights_only=True
whenever the input does. Our safetensors output, read back by the small
reader below, holds every tensor bit for bit under the expected name, tied
duplicates recorded in __metadata__; sharded output agrees with its index.
Sharded inputs are read back the same way. Prints 'N passed, N failed'.
"""
import collections
import glob
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

from oracle_cases import bits, read_safetensors, run_cases

def same(a, b, path=""):
    """Deep equality as a user of torch.load would need it."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor), f"{path}: not a tensor"
        assert type(a) is type(b), f"{path}: {type(a)} vs {type(b)}"
        assert a.dtype == b.dtype and a.shape == b.shape, f"{path}: {a.dtype}{list(a.shape)} vs {b.dtype}{list(b.shape)}"
        assert a.stride() == b.stride() and a.storage_offset() == b.storage_offset(), f"{path}: layout differs"
        assert a.requires_grad == b.requires_grad, f"{path}: requires_grad differs"
        assert torch.equal(bits(a), bits(b)), f"{path}: values differ"
        return
    assert type(a) is type(b), f"{path}: {type(a)} vs {type(b)}"
    if isinstance(a, dict):
        assert list(a.keys()) == list(b.keys()), f"{path}: keys differ"
        for k in a:
            same(a[k], b[k], f"{path}.{k}")
        assert getattr(a, "_metadata", None) == getattr(b, "_metadata", None), f"{path}: _metadata differs"
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), f"{path}: lengths differ"
        for i, (x, y) in enumerate(zip(a, b)):
            same(x, y, f"{path}[{i}]")
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and (a == b).all(), f"{path}: array differs"
    elif hasattr(a, "__dict__") and not isinstance(a, type):
        same(vars(a), vars(b), f"{path}.__dict__")
    else:
        assert a == b, f"{path}: {a!r} vs {b!r}"


def sharing(obj):
    """Groups of tensor paths that share one storage, as a comparable set."""
    groups = collections.defaultdict(list)

    def walk(o, p):
        if isinstance(o, torch.Tensor):
            groups[o.storage().data_ptr()].append(p)
        elif isinstance(o, dict):
            for k, v in o.items():
                walk(v, f"{p}.{k}")
        elif isinstance(o, (list, tuple)):
            for i, v in enumerate(o):
                walk(v, f"{p}[{i}]")
    walk(obj, "")
    return sorted(sorted(g) for g in groups.values() if len(g) > 1)


def flat_tensors(obj):
    """name -> tensor, with ckptconv's safetensors naming (root.key when several roots)."""
    roots = collections.OrderedDict()

    def walk(o, path):
        if isinstance(o, torch.Tensor):
            roots.setdefault("", collections.OrderedDict())["tensor"] = o
        elif isinstance(o, (dict, list, tuple)):
            items = list(o.items()) if isinstance(o, dict) else list(enumerate(o))
            for k, v in items:
                if isinstance(v, torch.Tensor):
                    roots.setdefault(path, collections.OrderedDict())[str(k)] = v
            for k, v in items:
                if isinstance(v, (dict, list, tuple)):
                    walk(v, f"{path}.{k}" if path else str(k))
    walk(obj, "")
    several = len(roots) > 1
    return collections.OrderedDict(
        (f"{r}.{k}" if several and r else k, t) for r, ts in roots.items() for k, t in ts.items())


def convert(cli, src, dst, *extra):
    r = subprocess.run([cli, "convert", src, "-o", dst, "--plugin", "none", "-q", *extra], capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError(f"convert exited {r.returncode}: {r.stderr.strip()}")


def check_pt(cli, src, tmp):
    dst = os.path.join(tmp, "out.pt")
    convert(cli, src, dst)
    a, b = torch.load(src), torch.load(dst)
    same(a, b)
    assert sharing(a) == sharing(b), "storage sharing differs"
    try:
        torch.load(src, weights_only=True)
    except Exception:
        return
    torch.load(dst, weights_only=True)


def check_safetensors(cli, src, tmp, shard=None):
    dst = os.path.join(tmp, "out.safetensors")
    convert(cli, src, dst, "--to", "safetensors", *(["--shard-size", shard] if shard else []))
    expected = flat_tensors(torch.load(src) if not src.endswith(".safetensors") else read_safetensors(src)[0])
    got, aliases = collections.OrderedDict(), {}
    index = os.path.join(tmp, "out.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            idx = json.load(f)
        total = 0
        for shard_file in sorted(set(idx["weight_map"].values())):
            tensors, meta = read_safetensors(os.path.join(tmp, shard_file))
            assert meta.get("format") == "pt"
            for k, v in tensors.items():
                assert idx["weight_map"][k] == shard_file, f"{k}: index says {idx['weight_map'][k]}"
                total += v.numel() * v.element_size()
            got.update(tensors)
            aliases.update({k: v for k, v in meta.items() if k != "format"})
        assert idx["metadata"]["total_size"] == total, "index total_size is wrong"
    else:
        got, meta = read_safetensors(dst)
        assert meta.get("format") == "pt", "__metadata__ lacks format: pt"
        aliases = {k: v for k, v in meta.items() if k != "format"}
    for name, t in expected.items():
        stored = got[aliases.get(name, name)]
        assert stored.dtype == t.dtype and list(stored.shape) == list(t.shape), f"{name}: dtype/shape differ"
        assert torch.equal(bits(stored), bits(t)), f"{name}: values differ"
    assert set(got) | set(aliases) == set(expected), "names differ"


def main():
    cli, corpus = sys.argv[1], sys.argv[2]
    cases = []
    for src in sorted(glob.glob(f"{corpus}/torch/*.pt") + glob.glob(f"{corpus}/cogvideox_sat/1.0/t2v_tiny.pt")):
        cases.append((f"pt       {os.path.relpath(src, corpus)}", lambda t, s=src: check_pt(cli, s, t)))
        cases.append((f"st       {os.path.relpath(src, corpus)}", lambda t, s=src: check_safetensors(cli, s, t)))
    cases.append(("st shard cogvideox_sat/1.0/t2v_tiny.pt",
                  lambda t: check_safetensors(cli, f"{corpus}/cogvideox_sat/1.0/t2v_tiny.pt", t, shard="300KB")))
    cases.append(("st       safetensors/simple.safetensors",
                  lambda t: check_safetensors(cli, f"{corpus}/safetensors/simple.safetensors", t)))
    for index in sorted(glob.glob(f"{corpus}/sharded/*/*.index.json")):
        cases.append((f"pt       {os.path.relpath(index, corpus)}", lambda t, s=index: check_sharded_to_pt(cli, s, t)))
    def in_temp(run):
        def go():
            with tempfile.TemporaryDirectory() as tmp:
                run(tmp)
        return go

    return run_cases([(name, in_temp(run)) for name, run in cases])


def check_sharded_to_pt(cli, index, tmp):
    """A sharded input re-containered to one pt equals the union of its shards."""
    dst = os.path.join(tmp, "merged.pt")
    convert(cli, index, dst)
    with open(index) as f:
        files = sorted(set(json.load(f)["weight_map"].values()))
    expected = collections.OrderedDict()
    for shard in files:
        path = os.path.join(os.path.dirname(index), shard)
        expected.update(read_safetensors(path)[0] if shard.endswith(".safetensors") else torch.load(path))
    got = torch.load(dst)
    assert list(got) == list(expected), "keys or order differ"
    for k in expected:
        assert got[k].dtype == expected[k].dtype and torch.equal(bits(got[k]), bits(expected[k])), f"{k}: differs"


if __name__ == "__main__":
    sys.exit(main())
