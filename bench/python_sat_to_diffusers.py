#!/usr/bin/python3
"""The reference conversion in Python, for timing: torch.load, the renames and splits, then save.

    /usr/bin/python3 bench/python_sat_to_diffusers.py SRC.pt OUT {safetensors|pt}
    /usr/bin/python3 bench/python_sat_to_diffusers.py SAT_DIR OUT_DIR folder
    /usr/bin/python3 bench/python_sat_to_diffusers.py LORA.pt OUT.safetensors merge

Uses the same conversions as the test oracles (tests/oracle/cogvideox_oracle.py, cogvideox_vae_oracle.py).
safetensors has no Debian package, so files are written the way safetensors' save_file lays them out, tensor
by tensor. `folder` converts transformer/ (via latest) and vae/3d-vae.pt into OUT_DIR/{transformer,vae}/,
and copies a T5 encoder folder's weights and tokenizer files into text_encoder/ and tokenizer/ (shutil, which
copies in the kernel on Linux).
"""
import json
import os
import shutil
import struct
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "oracle"))
import cogvideox_vae_oracle  # noqa: E402
from cogvideox_oracle import PREFIX, module_of, reference  # noqa: E402
from training_saves_oracle import sat_merge  # noqa: E402  (SAT's merge_linear_lora, training-saves.md 2.4)

NAMES = {torch.float16: "F16", torch.bfloat16: "BF16", torch.float32: "F32"}


def save_safetensors(tensors, path):
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, t in tensors.items():
        n = t.numel() * t.element_size()
        header[name] = {"dtype": NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + n]}
        offset += n
    text = json.dumps(header).encode()
    text += b" " * ((-len(text)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for t in tensors.values():
            t.contiguous().view(torch.uint8).numpy().tofile(f)


def convert_folder(src, out):
    with open(os.path.join(src, "transformer", "latest")) as f:
        tag = f.read().strip()
    sd = module_of(torch.load(os.path.join(src, "transformer", tag, "mp_rank_00_model_states.pt"), map_location="cpu"))
    os.makedirs(os.path.join(out, "transformer"))
    save_safetensors(reference(sd, learned_pos=False, prefix=PREFIX),
                     os.path.join(out, "transformer", "diffusion_pytorch_model.safetensors"))
    del sd
    vae = torch.load(os.path.join(src, "vae", "3d-vae.pt"), map_location="cpu")["state_dict"]
    os.makedirs(os.path.join(out, "vae"))
    save_safetensors(cogvideox_vae_oracle.reference(vae), os.path.join(out, "vae", "diffusion_pytorch_model.safetensors"))
    t5 = os.path.join(src, "t5-v1_1-xxl")
    if os.path.isdir(t5):
        for sub in ("text_encoder", "tokenizer"):
            os.makedirs(os.path.join(out, sub))
        for name in os.listdir(t5):
            sub = "text_encoder" if name == "config.json" or ".safetensors" in name else "tokenizer"
            shutil.copyfile(os.path.join(t5, name), os.path.join(out, sub, name))


def main():
    src, out, kind = sys.argv[1:4]
    if kind == "merge":
        module = module_of(torch.load(src, map_location="cpu"))
        rank = next(t.shape[0] for k, t in module.items() if ".matrix_A." in k)
        save_safetensors(reference(sat_merge(module, 1.0 / rank), learned_pos=False, prefix=PREFIX), out)
        return
    if kind == "folder":
        convert_folder(src, out)
        return
    sd = module_of(torch.load(src, map_location="cpu"))
    converted = reference(sd, learned_pos=False, prefix=PREFIX)
    if kind == "pt":
        torch.save(converted, out)
    else:
        save_safetensors(converted, out)


if __name__ == "__main__":
    main()
