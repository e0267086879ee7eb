#!/usr/bin/python3
"""Benchmark ckptconv against the read+write floor and Python torch, in one run.

    /usr/bin/python3 bench/bench.py [--runs 3] [--work DIR] [--keep]

Makes (once) a CogVideoX-2B-shaped SAT checkpoint of ~3.4 GB, then times
each command --runs times with /usr/bin/time -v, page cache warm (one
untimed warm-up read first) and an untimed `sync` before every run, and
prints medians of wall time and peak RSS with ratios against
`cat SRC > DST` and Python. Outputs are deleted before each run so every
run writes a fresh file.
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CLI = os.path.join(HERE, "..", "build", "bin", "ckptconv")
PY = "/usr/bin/python3"


def timed(cmd, shell=False):
    full = ["/usr/bin/time", "-v"] + (["sh", "-c", cmd] if shell else cmd)
    r = subprocess.run(full, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{cmd} failed: {r.stderr[-500:]}")
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", r.stderr)
    h, m, s = wall.groups()
    seconds = int(h or 0) * 3600 + int(m) * 60 + float(s)
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr).group(1))
    return seconds, rss_kb / 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--work", default="/tmp/ckptconv-bench")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    src = os.path.join(args.work, "sat_2b.pt")
    if not os.path.exists(src):
        subprocess.run([PY, os.path.join(HERE, "make_sat_checkpoint.py"), src], check=True)
    size = os.path.getsize(src)
    out = lambda name: os.path.join(args.work, name)  # noqa: E731
    subprocess.run(["cat", src], stdout=subprocess.DEVNULL, check=True)  # warm the page cache

    cases = [
        ("cat SRC > DST (floor)", lambda: timed(f"cat '{src}' > '{out('copy.pt')}'", shell=True), ["copy.pt"]),
        ("ckptconv inspect", lambda: timed([CLI, "inspect", src]), []),
        ("ckptconv pt -> safetensors", lambda: timed([CLI, "convert", src, "-o", out("o.safetensors"), "--plugin", "none",
                                                      "--to", "safetensors", "-q"]), ["o.safetensors"]),
        ("ckptconv pt -> pt", lambda: timed([CLI, "convert", src, "-o", out("o.pt"), "--plugin", "none", "-q"]), ["o.pt"]),
        ("python torch.load + torch.save", lambda: timed(
            [PY, "-c", f"import torch; torch.save(torch.load('{src}'), '{out('py.pt')}')"]), ["py.pt"]),
        # Issue 4: the real cogvideox_sat plan (every key renamed, every query_key_value split in three,
        # adaLN chunks reordered) written as diffusers safetensors, against the same conversion in Python.
        ("ckptconv SAT -> diffusers safetensors", lambda: timed(
            [CLI, "convert", src, "-o", out("diffusers"), "--force", "-q"]), ["diffusers"]),
        ("python SAT -> safetensors", lambda: timed(
            [PY, os.path.join(HERE, "python_sat_to_diffusers.py"), src, out("py.safetensors"), "safetensors"]),
         ["py.safetensors"]),
        ("python SAT -> torch.save", lambda: timed(
            [PY, os.path.join(HERE, "python_sat_to_diffusers.py"), src, out("py_conv.pt"), "pt"]), ["py_conv.pt"]),
    ]
    results = {}
    for name, run, produced in cases:
        samples = []
        for _ in range(args.runs):
            for p in produced:
                if os.path.isdir(out(p)):
                    shutil.rmtree(out(p))
                elif os.path.exists(out(p)):
                    os.remove(out(p))
            subprocess.run(["sync"], check=True)  # earlier runs' writeback must not throttle this one
            samples.append(run())
        for p in produced:
            if os.path.isdir(out(p)):
                shutil.rmtree(out(p))
            elif os.path.exists(out(p)):
                os.remove(out(p))
        results[name] = (statistics.median(s for s, _ in samples), statistics.median(r for _, r in samples),
                         [round(s, 2) for s, _ in samples])
        print(f"{name}: {results[name][2]} s", file=sys.stderr)

    floor = results["cat SRC > DST (floor)"][0]
    python = results["python torch.load + torch.save"][0]
    print(f"\ninput: {size / 1e9:.2f} GB, {os.cpu_count()} cores, page cache warm, median of {args.runs} runs\n")
    print("| command | wall s (median) | x cat | python / this | peak RSS MB |")
    print("|---|---|---|---|---|")
    for name, (wall, rss, _) in results.items():
        print(f"| {name} | {wall:.2f} | {wall / floor:.2f} | {python / wall:.1f} | {rss:.0f} |")


if __name__ == "__main__":
    main()
