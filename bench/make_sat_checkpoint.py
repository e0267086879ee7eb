#!/usr/bin/python3
"""A full-size CogVideoX-2B-shaped SAT checkpoint (fp16, ~3.4 GB) for benchmarks.

    /usr/bin/python3 bench/make_sat_checkpoint.py OUT.pt [--layers 30] [--hidden 1920]

Same key layout as tests/corpus (cogvideox.md section 3): {"module": OrderedDict(model.diffusion_model.*)}.
Values are random; only the sizes matter for timing.
"""
import argparse
import collections
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "corpus"))
import torch  # noqa: E402
from make_corpus import sat_transformer  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--layers", type=int, default=30)
    p.add_argument("--hidden", type=int, default=1920)
    a = p.parse_args()
    torch.manual_seed(0)
    sd = sat_transformer(a.hidden, a.layers, 16, "1.0", time_dim=512, text_dim=4096)
    torch.save({"module": sd}, a.out)
    total = sum(t.numel() * t.element_size() for t in sd.values())
    print(f"{a.out}: {len(sd)} tensors, {total / 1e9:.2f} GB of tensor data", file=sys.stderr)


if __name__ == "__main__":
    main()
