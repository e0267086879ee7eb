#!/usr/bin/python3
"""The reference conversion in Python, for timing: torch.load, the renames and splits, then save.

    /usr/bin/python3 bench/python_sat_to_diffusers.py SRC.pt OUT {safetensors|pt}

Uses the same conversion as the test oracle (tests/oracle/cogvideox_oracle.py). safetensors has no
Debian package, so the file is written the way safetensors' save_file lays it out, tensor by tensor.
"""
import json
import os
import struct
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "oracle"))
from cogvideox_oracle import PREFIX, module_of, reference  # noqa: E402

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


def main():
    src, out, kind = sys.argv[1:4]
    sd = module_of(torch.load(src, map_location="cpu"))
    converted = reference(sd, learned_pos=False, prefix=PREFIX)
    if kind == "pt":
        torch.save(converted, out)
    else:
        save_safetensors(converted, out)


if __name__ == "__main__":
    main()
