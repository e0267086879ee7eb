#!/usr/bin/python3
"""Full-size CogVideoX SAT checkpoints for benchmarks (same key layout as tests/corpus, cogvideox.md 3 and 6.1).

    /usr/bin/python3 bench/make_sat_checkpoint.py OUT.pt [--model 2b|5b]     # transformer only
    /usr/bin/python3 bench/make_sat_checkpoint.py OUT_DIR --folder [--model 2b]  # SAT release folder

2b: hidden 1920, 30 layers, fp16 (~3.4 GB). 5b: hidden 3072, 42 layers, bf16 (~11.1 GB).
--folder writes transformer/1000/mp_rank_00_model_states.pt, transformer/latest and a full-size
vae/3d-vae.pt (fp32, ~0.86 GB). Values are random; only the sizes matter for timing.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "corpus"))
import torch  # noqa: E402
from families.cogvideox_vae import sat_vae  # noqa: E402
from make_corpus import sat_transformer  # noqa: E402

MODELS = {"2b": (1920, 30, torch.float16), "5b": (3072, 42, torch.bfloat16)}


def tensor_gb(sd):
    return sum(t.numel() * t.element_size() for t in sd.values()) / 1e9


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--model", choices=MODELS, default="2b")
    p.add_argument("--folder", action="store_true")
    a = p.parse_args()
    torch.manual_seed(0)
    hidden, layers, dtype = MODELS[a.model]
    transformer = a.out
    if a.folder:
        transformer = os.path.join(a.out, "transformer", "1000", "mp_rank_00_model_states.pt")
        os.makedirs(os.path.dirname(transformer), exist_ok=True)
        with open(os.path.join(a.out, "transformer", "latest"), "w") as f:
            f.write("1000\n")
    sd = sat_transformer(hidden, layers, 16, "1.0", time_dim=512, text_dim=4096, dtype=dtype)
    torch.save({"module": sd}, transformer)
    print(f"{transformer}: {len(sd)} tensors, {tensor_gb(sd):.2f} GB of tensor data", file=sys.stderr)
    if a.folder:
        vae = sat_vae(ch=(128, 256, 256, 512), resnets=3, latent=16, loss=False, dtype=torch.float32)
        os.makedirs(os.path.join(a.out, "vae"), exist_ok=True)
        torch.save({"state_dict": vae}, os.path.join(a.out, "vae", "3d-vae.pt"))
        print(f"{a.out}/vae/3d-vae.pt: {len(vae)} tensors, {tensor_gb(vae):.2f} GB", file=sys.stderr)


if __name__ == "__main__":
    main()
