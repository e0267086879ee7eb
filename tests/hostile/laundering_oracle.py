#!/usr/bin/python3
"""Laundering: payload-carrying checkpoints go in, and whatever ckptconv writes is safe to torch.load.

    /usr/bin/python3 tests/hostile/laundering_oracle.py CLI CORPUS

Each input carries extras whose unpickling runs code: callables no deny-list names
(sqlite3.connect, tarfile.open, zipfile.ZipFile create a file when called) and, for
--drop-unsafe, the classic os.system. First the payload is shown to be live (loading
the input with torch.load creates the marker file), then the input is converted
(--plugin none to pt, and through the t2m_cut rules to pt), and every output is
loaded with torch.load(weights_only=False): no marker may appear, every global in
the output must be on the allow-list (written here from the spec, not from our
code), the allowed extras must come back equal, and the report must name what
was dropped. Outputs without extras must load with weights_only=True.
"""
import argparse
import collections
import os
import pickletools
import subprocess
import sys
import tempfile
import zipfile

import numpy as np
import torch

CLI, CORPUS = sys.argv[1], sys.argv[2]

# target-loaders.md §A.2 (torch's weights_only list) widened by the data-only extras of issue #13.
STORAGES = {"FloatStorage", "DoubleStorage", "HalfStorage", "BFloat16Storage", "LongStorage", "IntStorage",
            "ShortStorage", "CharStorage", "ByteStorage", "BoolStorage", "UntypedStorage", "ComplexFloatStorage",
            "ComplexDoubleStorage"}
ALLOWED = {("collections", "OrderedDict"), ("collections", "defaultdict"), ("collections", "Counter"),
           ("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_tensor_v3"),
           ("torch._utils", "_rebuild_parameter"), ("torch", "Size"), ("torch", "device"),
           ("builtins", "set"), ("builtins", "frozenset"), ("builtins", "complex"), ("builtins", "list"),
           ("argparse", "Namespace"), ("_codecs", "encode"), ("numpy", "dtype"), ("numpy", "ndarray"),
           ("numpy.core.multiarray", "scalar"), ("numpy.core.multiarray", "_reconstruct")}
ALLOWED |= {("torch", s) for s in STORAGES}
ALLOWED |= {("torch", str(d).split(".")[1]) for d in (torch.float32, torch.float16, torch.bfloat16, torch.int64)}


class Payload:
    """Pickles as REDUCE(fn, args): unpickling calls fn(*args)."""

    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


def globals_in(path):
    with zipfile.ZipFile(path) as z:
        pkl = z.read(next(n for n in z.namelist() if n.endswith("/data.pkl")))
    found, strings = set(), []
    for op, arg, _ in pickletools.genops(pkl):
        if op.name == "GLOBAL":
            found.add(tuple(arg.split(" ", 1)))
        elif op.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE"):
            strings.append(arg)
        elif op.name == "STACK_GLOBAL":
            found.add((strings[-2], strings[-1]))
    return found


def load_in_fresh_process(path, marker, weights_only=False):
    """torch.load in a child (a payload must not touch this process); returns (ok, marker created)."""
    code = f"import torch; torch.load({path!r}, weights_only={weights_only})"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=os.path.dirname(marker))
    return r.returncode == 0, os.path.exists(marker), r.stderr


def cli(*args):
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=300)


def check_output(out, marker, dropped_keys, stderr, kept=None):
    assert not os.path.exists(marker)
    names = globals_in(out)
    assert names <= ALLOWED, f"{out} names {sorted(names - ALLOWED)}"
    ok, fired, err = load_in_fresh_process(out, marker)
    assert ok, err
    assert not fired, f"loading {out} ran a payload"
    for key in dropped_keys:
        assert f"off its allow-list): {key} (" in stderr, (key, stderr)
    loaded = torch.load(out)
    for key, value in (kept or {}).items():
        got = loaded[key]
        if isinstance(value, np.ndarray):
            assert np.array_equal(got, value), key
        else:
            assert got == value, (key, got, value)
    return loaded


def main():
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        marker = os.path.join(tmp, "PWNED")
        base = torch.load(os.path.join(CORPUS, "t2m_cut", "t2m_two_roots.pt"))
        kept = {"args": argparse.Namespace(lr=0.5, name="run"), "best": np.float64(1.25),
                "rng": np.arange(4, dtype=np.uint32), "names": {"a", "b"}, "step": 7,
                "counts": collections.defaultdict(list, {"x": [1]})}
        payloads = {"sqlite": Payload(__import__("sqlite3").connect, marker),
                    "tar": Payload(__import__("tarfile").open, marker, "w"),
                    "zip": Payload(__import__("zipfile").ZipFile, marker, "w")}
        cases = []
        for name, payload in payloads.items():
            obj = dict(base)
            obj.update(kept)
            obj["hook"] = payload
            cases.append((name, obj, ["hook"], []))
        # tarfile.open is a classmethod: it pickles as getattr(TarFile, 'open'), a gadget refused on reading.
        cases[1] = (cases[1][0], cases[1][1], [], ["--drop-unsafe"])
        unsafe = {k: v for k, v in base.items() if k != "lr"}  # torch 1.13's weights_only has no float opcode
        unsafe["hook"] = Payload(os.system, "touch " + marker)
        cases.append(("os_system", unsafe, [], ["--drop-unsafe"]))

        for name, obj, dropped, flags in cases:
            src = os.path.join(tmp, name + ".pt")
            torch.save(obj, src)
            try:
                ok, fired, err = load_in_fresh_process(src, marker)
                assert fired, f"{name}: the payload is not live ({err})"  # the test can fail
                os.remove(marker)
                if flags:
                    r = cli("convert", src, "-o", os.path.join(tmp, name + "_refused.pt"), "--plugin", "none")
                    assert r.returncode == 3 and "unsafe pickle: " in r.stderr, r.stderr
                    assert not os.path.exists(os.path.join(tmp, name + "_refused.pt"))
                for mode in (["--plugin", "none"], ["--plugin", "t2m_cut"]):
                    out = os.path.join(tmp, f"{name}_{mode[1]}.pt")
                    r = cli("convert", src, "-o", out, *mode, *flags)
                    assert r.returncode == 0, r.stderr
                    if flags:
                        assert "removed by --drop-unsafe" in r.stderr, r.stderr
                    check_output(out, marker, dropped, r.stderr, kept if not flags else {})
                    r = cli("verify", src, out, *mode, *flags)  # the sanitized output is what the plan derives
                    assert r.returncode == 0, r.stdout + r.stderr
                    if name == "os_system":  # nothing but tensors and ints left: the strict loader opens it
                        ok, fired, err = load_in_fresh_process(out, marker, weights_only=True)
                        assert ok and not fired, err
                print(f"ok   {name}")
            except AssertionError as e:
                failures += 1
                print(f"FAIL {name}: {e}")
            if os.path.exists(marker):
                os.remove(marker)
    print(f"{len(cases) - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
