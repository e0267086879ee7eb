#!/usr/bin/python3
"""The Python way to consolidate a DeepSpeed ZeRO folder, in the style of DeepSpeed's zero_to_fp32.py (training-saves.md
3.4, 3.5, 3.7): every optim file loaded whole, the Adam moments popped, the fp32 partitions concatenated into the
whole fp32 model in RAM, then cast to bf16 and written as safetensors (CogVideo's convert_weight_deepspeed2hf).

    /usr/bin/python3 bench/python_zero_to_fp32.py FOLDER OUT.safetensors
"""
import collections
import glob
import os
import re
import sys

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "corpus"))
import torch  # noqa: E402
from families.deepspeed import ZeroStageEnum  # noqa: E402
from make_sat_checkpoint import write_safetensors  # noqa: E402


def main():
    assert ZeroStageEnum  # importing it put stand-ins for DeepSpeed's pickled classes in place for torch.load
    folder, out = sys.argv[1], sys.argv[2]
    tag = os.path.join(folder, open(os.path.join(folder, "latest")).read().strip())
    rank = lambda p: int(re.search(r"zero_pp_rank_(\d+)_", p).group(1))  # noqa: E731
    optim = sorted(glob.glob(os.path.join(tag, "*_optim_states.pt")), key=rank)
    states = sorted(glob.glob(os.path.join(tag, "*model_states.pt")))
    shapes = torch.load(states[0])["param_shapes"]
    flats = []
    for path in optim:
        inner = torch.load(path)["optimizer_state_dict"]
        inner.pop("base_optimizer_state", None)
        inner.pop("optimizer_state_dict", None)
        flats.append(torch.cat(list(inner.get("single_partition_of_fp32_groups") or inner["fp32_flat_groups"])))
    sd = collections.OrderedDict()
    if "fp32_flat_groups" in inner:
        off, dp = 0, len(flats)
        for group in shapes:
            for name, shape in group.items():
                size = -(-shape.numel() // dp)
                sd[name] = torch.cat([f[off:off + size] for f in flats])[:shape.numel()].view(shape)
                off += size
    else:
        flat, off = torch.cat(flats), 0
        for group in shapes:
            for name, shape in group.items():
                sd[name] = flat[off:off + shape.numel()].view(shape)
                off += shape.numel()
    write_safetensors({k: v.to(torch.bfloat16) for k, v in sd.items()}, out)


if __name__ == "__main__":
    main()
