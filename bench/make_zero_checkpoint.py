#!/usr/bin/python3
"""Full-size DeepSpeed folders for the benchmark: a CogVideoX 2B transformer fine-tuned as CogVideo's finetune/
does it (accelerate + DeepSpeed, diffusers names, bf16, tag `pytorch_model`), over 2 data-parallel ranks with the
fp32 master and both Adam moments in the optim files (training-saves.md 3.1-3.5).

    /usr/bin/python3 bench/make_zero_checkpoint.py OUT_DIR --stage 2|3

Stage 2 (~24 GB): mp_rank_00_model_states.pt (bf16 `module`) and two bf16_zero_pp_rank_N optim files of
3.4 GB master + 6.8 GB moments each. Stage 3 (~20 GB): the same optim files cut per param (ceil(numel/2)) and
model-states files holding placeholders. Built one rank at a time, so the generator peaks at ~14 GB of RAM.
Also prints the byte ranges of the fp32 partitions (`needed`: what a conversion must read) as JSON.
"""
import argparse
import collections
import json
import os
import sys
import zipfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "corpus"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "oracle"))
import torch  # noqa: E402
from families.deepspeed import DynamicLossScaler, ZeroStageEnum, adam_state, optim_states, VERSION  # noqa: E402
from make_corpus import sat_transformer  # noqa: E402
import cogvideox_oracle  # noqa: E402

DP = 2


def shapes_2b():
    """name -> shape of the diffusers-named 2B transformer (the finetune/ layout), in module order."""
    sat = sat_transformer(8, 30, 16, "1.0", time_dim=8, text_dim=8, head_dim=8)  # names only: tiny widths
    names = list(cogvideox_oracle.reference(sat, False, cogvideox_oracle.PREFIX))
    full = cogvideox_oracle.reference(sat_transformer(1920, 1, 16, "1.0", time_dim=512, text_dim=4096),
                                      False, cogvideox_oracle.PREFIX)
    out = collections.OrderedDict()
    for n in names:  # layer i has the shapes of layer 0
        key = n if not n.startswith("transformer_blocks.") else "transformer_blocks.0." + n.split(".", 2)[2]
        out[n] = full[key].shape
    return out


def master_flat(shapes, seed=0):
    g = torch.Generator().manual_seed(seed)
    total = sum(s.numel() for s in shapes.values())
    return torch.randn(total, generator=g).mul_(0.02)


def module_of(flat, shapes):
    """`module`: views into the bf16 flat buffer (ZeRO 1/2 keep it so)."""
    flat16 = flat.to(torch.bfloat16)
    sd, off = collections.OrderedDict(), 0
    for n, s in shapes.items():
        sd[n] = flat16[off:off + s.numel()].view(s)
        off += s.numel()
    return sd


def states(shapes, module, stage):
    return {"module": module, "buffer_names": [], "optimizer": None, "param_shapes": [shapes],
            "shared_params": {}, "frozen_param_shapes": collections.OrderedDict(),
            "frozen_param_fragments": collections.OrderedDict(), "lr_scheduler": None,
            "sparse_tensor_module_names": set(), "skipped_steps": 0, "global_steps": 1000, "global_samples": 8000,
            "dp_world_size": DP, "mp_world_size": 1, "ds_config": {"zero_optimization": {"stage": stage},
                                                                  "bf16": {"enabled": True}},
            "ds_version": VERSION}


def save_optim(path, inner, part):
    inner["base_optimizer_state" if "single_partition_of_fp32_groups" in inner else "optimizer_state_dict"] = {
        "state": {0: {"step": torch.tensor(1000.0), "exp_avg": torch.zeros_like(part),
                      "exp_avg_sq": torch.zeros_like(part)}},
        "param_groups": adam_state([1])["param_groups"]}
    torch.save(optim_states(inner), path)


def record_range(path, tensor_numel):
    """(offset, length) of the largest storage record in a torch zip: the fp32 partition (moments are zeros of
    the same size, so take the first record of that size)."""
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            if "/data/" in info.filename and info.file_size == tensor_numel * 4:
                with open(path, "rb") as f:
                    f.seek(info.header_offset + 26)
                    n, m = int.from_bytes(f.read(2), "little"), int.from_bytes(f.read(2), "little")
                return info.header_offset + 30 + n + m, info.file_size
    raise SystemExit(f"{path}: no record of {tensor_numel} floats")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--stage", type=int, choices=(2, 3), required=True)
    a = p.parse_args()
    tag = os.path.join(a.out, "pytorch_model")
    os.makedirs(tag, exist_ok=True)
    with open(os.path.join(a.out, "latest"), "w") as f:
        f.write("pytorch_model")
    shapes = shapes_2b()
    flat = master_flat(shapes)
    total = flat.numel()
    needed = []
    if a.stage == 2:
        torch.save(states(shapes, module_of(flat, shapes), 2), os.path.join(tag, "mp_rank_00_model_states.pt"))
        padded = -(-total // (2 * DP)) * 2 * DP
        size = padded // DP
        parts = [flat[r * size:min((r + 1) * size, total)].clone() for r in range(DP)]
        del flat
        for r, part in enumerate(parts):
            path = os.path.join(tag, f"bf16_zero_pp_rank_{r}_mp_rank_00_optim_states.pt")
            inner = {"loss_scaler": DynamicLossScaler(), "dynamic_loss_scale": False, "overflow": False,
                     "clip_grad": 1.0, "single_partition_of_fp32_groups": [part], "zero_stage": ZeroStageEnum(2),
                     "group_paddings": [size - part.numel()], "partition_count": [DP], "ds_version": VERSION}
            save_optim(path, inner, part)
            needed.append((path,) + record_range(path, part.numel()))
    else:
        placeholders = collections.OrderedDict((n, torch.empty(0, dtype=torch.bfloat16)) for n in shapes)
        streams = [[] for _ in range(DP)]
        off = 0
        for n, s in shapes.items():
            numel = s.numel()
            size = -(-numel // DP)
            for r in range(DP):
                piece = flat[off + r * size:off + min((r + 1) * size, numel)]
                streams[r].append(torch.cat([piece, torch.zeros(size - piece.numel())]) if piece.numel() < size
                                  else piece)
            off += numel
        del flat
        for r in range(DP):
            torch.save(states(shapes, placeholders, 3),
                       os.path.join(tag, f"zero_pp_rank_{r}_mp_rank_00_model_states.pt"))
            part = torch.cat(streams[r])
            streams[r] = None
            path = os.path.join(tag, f"bf16_zero_pp_rank_{r}_mp_rank_00_optim_states.pt")
            inner = {"zero_stage": ZeroStageEnum.weights, "loss_scaler": DynamicLossScaler(),
                     "dynamic_loss_scale": False, "overflow": False, "partition_count": DP,
                     "fp32_flat_groups": [part]}
            save_optim(path, inner, part)
            needed.append((path,) + record_range(path, part.numel()))
    print(json.dumps({"params": total, "needed": needed}))


if __name__ == "__main__":
    main()
