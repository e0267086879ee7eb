#!/usr/bin/python3
"""Runs one hostile-corpus case (tests/corpus/_hostile/cases.json) against the CLI.

    run_case.py CLI CORPUS_DIR CASE_NAME

`convert INPUT -o OUT/out.pt` must exit with the case's code and message, in
bounded time (a FIFO must never make it wait), write nothing on refusal (no
output, no temporary, no folder) and leave the input unchanged; `inspect`
must refuse the same input with the same code.
"""
import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile

CLI, CORPUS, NAME = sys.argv[1], sys.argv[2], sys.argv[3]
TIMEOUT = 60


def fail(msg):
    print(f"FAIL {NAME}: {msg}")
    sys.exit(1)


def snapshot(path):
    """Every file under `path` (or the file itself) with its type and content hash."""
    found = {}
    paths = [path] if not os.path.isdir(path) else [os.path.join(d, f) for d, _, fs in os.walk(path) for f in fs]
    for p in paths:
        st = os.lstat(p)
        digest = ""
        if os.path.isfile(p) and not os.path.islink(p):
            with open(p, "rb") as f:
                digest = hashlib.sha256(f.read()).hexdigest()
        found[os.path.relpath(p, path) if os.path.isdir(path) else p] = (st.st_mode, st.st_size, digest)
    return found


def good_safetensors(path, name="a"):
    text = json.dumps({name: {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}).encode()
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little") + text + b"\0" * 4)


def special_input(kind, work):
    """Inputs git cannot hold: FIFOs, devices, sockets."""
    if kind == "fifo_input":
        os.mkfifo(os.path.join(work, "model.pt"))
        return os.path.join(work, "model.pt")
    if kind == "fifo_index":
        os.mkfifo(os.path.join(work, "model.safetensors.index.json"))
        return os.path.join(work, "model.safetensors.index.json")
    if kind == "fifo_shard":
        with open(os.path.join(work, "model.safetensors.index.json"), "w") as f:
            json.dump({"weight_map": {"a": "model-00001-of-00001.safetensors"}}, f)
        os.mkfifo(os.path.join(work, "model-00001-of-00001.safetensors"))
        return work
    if kind == "fifo_latest":
        os.mkfifo(os.path.join(work, "latest"))
        return work
    if kind == "device_input":
        return "/dev/zero"
    if kind == "socket_input":
        s = socket.socket(socket.AF_UNIX)
        s.bind(os.path.join(work, "model.pt"))
        return os.path.join(work, "model.pt")
    fail(f"unknown special input {kind}")


def run(args):
    try:
        return subprocess.run([CLI] + args, capture_output=True, text=True, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        fail(f"{' '.join(args)} did not finish in {TIMEOUT} s (a hang)")


def main():
    with open(os.path.join(CORPUS, "cases.json")) as f:
        case = next((c for c in json.load(f) if c["name"] == NAME), None)
    if case is None:
        fail("no such case")
    with tempfile.TemporaryDirectory() as work:
        src = special_input(case["special"], work) if case["special"] else os.path.join(CORPUS, case["input"])
        before = snapshot(src) if src != "/dev/zero" else {}
        out_dir = os.path.join(work, "out")
        os.mkdir(out_dir)
        r = run(["convert", src, "-o", os.path.join(out_dir, "out.pt")] + case["args"])
        if r.returncode != case["exit"]:
            fail(f"convert exited {r.returncode}, expected {case['exit']}\nstderr: {r.stderr}")
        if case["message"] not in r.stderr:
            fail(f"stderr lacks {case['message']!r}\nstderr: {r.stderr}")
        left = sorted(os.listdir(out_dir))
        expected = ["out.pt"] if case["exit"] == 0 else []
        if left != expected:
            fail(f"output folder holds {left}, expected {expected}")
        if src != "/dev/zero" and snapshot(src) != before:
            fail("the input changed")
        if case["exit"] != 0:
            r = run(["inspect", src])
            if r.returncode != case["exit"] or case["message"] not in r.stderr:
                fail(f"inspect exited {r.returncode} with {r.stderr!r}")
    print(f"ok {NAME}: exit {case['exit']}" + (f", {case['message']!r}" if case["message"] else ""))


if __name__ == "__main__":
    main()
