"""DeepSpeed checkpoint folders written in the engine's own file layout (training-saves.md 3; DeepSpeed itself is
not installable here): model-states and optim-states files per rank with the keys, classes and partitioning of
ZeRO 1/2 (stage_1_and_2.py), ZeRO 3 (stage3.py) and BF16_Optimizer, the `latest` tag file and the wrappers
HF Trainer and accelerate put around them. Small models with awkward sizes so parameters straddle partitions."""
import collections
import dataclasses
import enum
import os
import sys
import types

import torch


def _module(name):
    """A stand-in for a DeepSpeed module, so pickle names DeepSpeed's classes exactly as a real save does."""
    parts = name.split(".")
    for i in range(1, len(parts) + 1):
        n = ".".join(parts[:i])
        if n not in sys.modules:
            sys.modules[n] = types.ModuleType(n)
            if i > 1:
                setattr(sys.modules[".".join(parts[:i - 1])], parts[i - 1], sys.modules[n])
    return sys.modules[name]


class ZeroStageEnum(int, enum.Enum):
    disabled = 0
    optimizer_states = 1
    gradients = 2
    weights = 3


class DynamicLossScaler:
    def __init__(self):
        self.cur_scale, self.cur_iter, self.last_overflow_iter = 65536.0, 300, -1
        self.scale_factor, self.scale_window, self.min_scale = 2.0, 1000, 1.0


@dataclasses.dataclass
class fragment_address:  # noqa: N801 (DeepSpeed's name)
    numel: int
    start: int


for cls, where in ((ZeroStageEnum, "deepspeed.runtime.zero.config"),
                   (DynamicLossScaler, "deepspeed.runtime.fp16.loss_scaler"),
                   (fragment_address, "deepspeed.utils.tensor_fragment")):
    cls.__module__ = where
    setattr(_module(where), cls.__name__, cls)

VERSION = "0.15.3"


def align(n, m):
    return (n + m - 1) // m * m


@dataclasses.dataclass
class Model:
    """A model as the engine sees it: trainable param groups (names in flat order), frozen params, tied aliases
    and persistent buffers, with the fp32 master of every trainable param and the 16-bit training dtype."""
    groups: list            # [[name, ...], ...]
    master: dict            # name -> fp32 tensor (trainable)
    frozen: dict            # name -> 16-bit tensor
    buffers: dict           # name -> tensor (stored dtype)
    shared: dict            # alias -> stored name
    dtype: torch.dtype

    def module(self):
        """`module`: the state dict in module order, trainable weights rounded once to the training dtype."""
        sd = collections.OrderedDict()
        for name in [n for g in self.groups for n in g] + list(self.frozen) + list(self.buffers):
            sd[name] = self.master[name].to(self.dtype) if name in self.master else \
                self.frozen.get(name, self.buffers.get(name))
        for alias, stored in self.shared.items():
            sd[alias] = sd[stored]
        return sd


def toy_model(dtype, seed, frozen=True):
    """Odd sizes (so partitions cut through params), a tied head, an int buffer and an fp32 buffer."""
    g = torch.Generator().manual_seed(seed)
    shapes = {"embed.weight": (11, 6), "layers.0.weight": (6, 6), "layers.0.bias": (6,), "layers.1.weight": (5, 6),
              "layers.1.bias": (5,), "out.weight": (3, 5)}
    master = {k: torch.randn(*s, generator=g) for k, s in shapes.items()}
    groups = [["embed.weight", "layers.0.weight", "layers.1.weight", "out.weight"], ["layers.0.bias", "layers.1.bias"]]
    frozen_params = {"norm.weight": torch.randn(6, generator=g).to(dtype), "norm.bias": torch.randn(7, generator=g)
                     .to(dtype)} if frozen else {}
    buffers = {"position_ids": torch.arange(9).unsqueeze(0), "rope.inv_freq": torch.rand(3, generator=g)}
    return Model(groups, master, frozen_params, buffers, {"head.weight": "embed.weight"}, dtype)


def model_states(model, zero_stage, dp, extra=None):
    """The top level of a `*_model_states.pt` (engine.py _save_checkpoint), without `module`."""
    state = {
        "buffer_names": list(model.buffers),
        "optimizer": None,
        "param_shapes": [collections.OrderedDict((n, model.master[n].shape) for n in g) for g in model.groups],
        "shared_params": dict(model.shared),
        "lr_scheduler": {"last_epoch": 300, "_step_count": 301, "base_lrs": [1e-4, 1e-4]},
        "data_sampler": None,
        "random_ltd": None,
        "sparse_tensor_module_names": set(),
        "skipped_steps": 2,
        "global_steps": 300,
        "global_samples": 300 * dp,
        "dp_world_size": dp,
        "mp_world_size": 1,
        "ds_config": {"train_micro_batch_size_per_gpu": 1, "zero_optimization": {"stage": zero_stage},
                      "bf16" if model.dtype == torch.bfloat16 else "fp16": {"enabled": True}},
        "ds_version": VERSION,
    }
    state.update(extra or {})
    return state


def adam_state(numels):
    return {"state": {i: {"step": torch.tensor(300.0), "exp_avg": torch.randn(n), "exp_avg_sq": torch.rand(n)}
                      for i, n in enumerate(numels)},
            "param_groups": [{"lr": 1e-4, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0, "params": [i]}
                             for i in range(len(numels))]}


def flat16_module(model):
    """ZeRO 1/2 keep each group's 16-bit weights as views into one flat buffer: `module` pickles those views."""
    sd = model.module()
    for group in model.groups:
        flat = torch.cat([sd[n].reshape(-1) for n in group])
        off = 0
        for n in group:
            sd[n] = flat[off:off + sd[n].numel()].view(sd[n].shape)
            off += sd[n].numel()
    for alias, stored in model.shared.items():
        sd[alias] = sd[stored]
    return sd


def zero12_partitions(model, dp, keep_padding):
    """Per group: the fp32 flat buffer padded to a multiple of 2·dp, cut into dp partitions (stage_1_and_2.py).
    Saved views drop each rank's share of the padding (ZeRO 1/2) or keep it (BF16_Optimizer, whose
    group_paddings put all of it on the last rank). Returns per rank (saved tensors, paddings, slice maps)."""
    ranks = [([], [], []) for _ in range(dp)]
    for group in model.groups:
        flat = torch.cat([model.master[n].reshape(-1) for n in group])
        numel = flat.numel()
        padded = torch.cat([flat, torch.zeros(align(numel, 2 * dp) - numel)])
        size = padded.numel() // dp
        names = [(n, model.master[n].numel()) for n in group]
        for r in range(dp):
            part = padded[r * size:(r + 1) * size].clone()
            valid = max(0, min(size, numel - r * size))
            pad = size - valid
            if keep_padding:
                ranks[r][0].append(part)
                ranks[r][1].append(align(numel, 2 * dp) - numel if r == dp - 1 else 0)
            else:
                ranks[r][0].append(part[:valid])  # a narrowed view: the storage keeps the padding
                ranks[r][1].append(pad)
            mapping, off = collections.OrderedDict(), 0
            for n, k in names:
                lo, hi = max(off, r * size), min(off + k, r * size + valid)
                if lo < hi:
                    mapping[n] = fragment_address(hi - lo, lo - r * size)
                off += k
            ranks[r][2].append(mapping)
    return ranks


def optim_states(inner):
    return {"optimizer_state_dict": inner, "ds_config": {"zero_optimization": {}}, "ds_version": VERSION}


def write_zero12(folder, tag, model, dp, stage, bf16_optimizer=False, module=None, extra=None):
    """A ZeRO 1/2 (or BF16_Optimizer) save: mp_rank_00_model_states.pt and one optim file per rank."""
    os.makedirs(os.path.join(folder, tag), exist_ok=True)
    with open(os.path.join(folder, "latest"), "w") as f:
        f.write(tag)
    with open(os.path.join(folder, "zero_to_fp32.py"), "w") as f:
        f.write("# the recovery script DeepSpeed copies beside `latest`\n")
    frozen = {"frozen_param_shapes": collections.OrderedDict((n, t.shape) for n, t in model.frozen.items()),
              "frozen_param_fragments": collections.OrderedDict((n, t.clone()) for n, t in model.frozen.items())} \
        if stage == 2 and not bf16_optimizer else {}
    states = model_states(model, stage, dp, dict(frozen, **(extra or {})))
    torch.save(dict(module=module if module is not None else flat16_module(model), **states),
               os.path.join(folder, tag, "mp_rank_00_model_states.pt"))
    prefix = "bf16_" if model.dtype == torch.bfloat16 else ""
    for r, (parts, paddings, maps) in enumerate(zero12_partitions(model, dp, bf16_optimizer)):
        inner = {"clip_grad": 1.0, "base_optimizer_state": adam_state([p.numel() for p in parts]),
                 "single_partition_of_fp32_groups": parts, "group_paddings": paddings,
                 "partition_count": [dp] * len(parts), "ds_version": VERSION, "param_slice_mappings": maps}
        if not bf16_optimizer:
            inner = dict({"loss_scaler": DynamicLossScaler(), "dynamic_loss_scale": True, "overflow": False},
                         zero_stage=ZeroStageEnum(stage), **inner)
        torch.save(optim_states(inner), os.path.join(folder, tag, f"{prefix}zero_pp_rank_{r}_mp_rank_00_optim_states.pt"))


def write_zero3(folder, tag, model, dp, sub_group_size=40):
    """A ZeRO 3 save: per rank a model-states file (placeholders in `module`, this rank's frozen fragments) and
    an optim file whose fp32_flat_groups hold, param by param, this rank's ceil(numel/dp) slice. The last
    rank's tail past numel is uninitialised memory (garbage here), never zeros."""
    os.makedirs(os.path.join(folder, tag), exist_ok=True)
    with open(os.path.join(folder, "latest"), "w") as f:
        f.write(tag + "\n")
    names = [n for g in model.groups for n in g]
    # param_shapes has one entry per optimizer sub-group (sub_group_size elements at most).
    sub_groups, current, count = [], collections.OrderedDict(), 0
    for n in names:
        if current and count + model.master[n].numel() > sub_group_size:
            sub_groups.append(current)
            current, count = collections.OrderedDict(), 0
        current[n] = model.master[n].shape
        count += model.master[n].numel()
    sub_groups.append(current)
    junk = torch.Generator().manual_seed(99)

    def slices(t, r):
        flat = t.reshape(-1)
        size = -(-flat.numel() // dp)
        part = flat[r * size:(r + 1) * size]
        tail = torch.randn(size - part.numel(), generator=junk).to(t.dtype) * 1e30
        return torch.cat([part, tail])

    placeholders = collections.OrderedDict()
    for n, t in model.module().items():
        placeholders[n] = t if n in model.buffers else torch.empty(0, dtype=model.dtype)
    prefix = "bf16_" if model.dtype == torch.bfloat16 else ""
    for r in range(dp):
        extra = {"param_shapes": sub_groups,
                 "frozen_param_shapes": collections.OrderedDict((n, t.shape) for n, t in model.frozen.items()),
                 "frozen_param_fragments": collections.OrderedDict((n, slices(t, r)) for n, t in model.frozen.items())}
        torch.save(dict(module=placeholders, **model_states(model, 3, dp, extra)),
                   os.path.join(folder, tag, f"zero_pp_rank_{r}_mp_rank_00_model_states.pt"))
        groups = [torch.cat([slices(model.master[n], r) for n in g]) for g in sub_groups]
        inner = {"zero_stage": ZeroStageEnum.weights, "loss_scaler": DynamicLossScaler(), "dynamic_loss_scale": True,
                 "overflow": False, "partition_count": dp,
                 "optimizer_state_dict": adam_state([g.numel() for g in groups]), "fp32_flat_groups": groups}
        torch.save(optim_states(inner), os.path.join(folder, tag, f"{prefix}zero_pp_rank_{r}_mp_rank_00_optim_states.pt"))


def sat_model(sd, dtype, seed):
    """A SAT transformer as DeepSpeed trains it: every transformer weight trainable (an fp32 master whose
    rounding is the saved weight), one group for matrices and one for vectors."""
    g = torch.Generator().manual_seed(seed)
    master = {k: t.float() + torch.randn(t.shape, generator=g) * 1e-4 for k, t in sd.items()}
    return Model([[k for k in sd if sd[k].dim() > 1], [k for k in sd if sd[k].dim() <= 1]], master, {}, {}, {},
                 dtype)


# SAT's mpu layers (training-saves.md 4.1-4.2): how SAT's partition() splits a CogVideoX transformer.
MP_COLUMN = {"attention.query_key_value.weight": 3, "attention.query_key_value.bias": 3,
             "mlp.dense_h_to_4h.weight": 1, "mlp.dense_h_to_4h.bias": 1}
MP_ROW = ("attention.dense.weight", "mlp.dense_4h_to_h.weight")


def sat_partition(sd, n, rank):
    """Rank `rank`'s part of a SAT state dict over `n` model-parallel ranks, as SAT's partition() cuts it:
    column-parallel tensors cut block by block (each of the `stride` blocks split in n along dim 0), row-parallel
    weights along dim 1, everything else whole."""
    part = {}
    for k, t in sd.items():
        stride = next((s for suffix, s in MP_COLUMN.items() if k.endswith(suffix)), None)
        if stride is not None:
            part[k] = torch.cat([b.chunk(n, 0)[rank] for b in t.chunk(stride, 0)], 0).clone()
        elif k.endswith(MP_ROW):
            part[k] = t.chunk(n, 1)[rank].clone()
        else:
            part[k] = t.clone()
    return part


def write_sat_model_parallel(folder, tag, sd, n):
    os.makedirs(os.path.join(folder, tag), exist_ok=True)
    for rank in range(n):
        torch.save({"module": sat_partition(sd, n, rank), "iteration": 1000, "global_steps": 1000,
                    "ds_version": VERSION, "mp_world_size": n, "dp_world_size": 1, "param_shapes": [],
                    "optimizer": None}, os.path.join(folder, tag, f"mp_rank_{rank:02d}_model_states.pt"))
    with open(os.path.join(folder, "latest"), "w") as f:
        f.write(tag)


def write(out, sat_transformer, diffusers_names):
    base = os.path.join(out, "deepspeed")
    # ZeRO-2 over 2 and 3 ranks (fp16 and bf16: the bf16_ prefix), frozen params and a tied head.
    write_zero12(f"{base}/zero2_dp2", "global_step300", toy_model(torch.float16, 1), 2, 2)
    write_zero12(f"{base}/zero2_dp3_bf16", "global_step300", toy_model(torch.bfloat16, 2), 3, 2)
    # ZeRO-1 writes no frozen fragments: frozen params live only in `module`.
    write_zero12(f"{base}/zero1_dp2", "global_step300", toy_model(torch.bfloat16, 3), 2, 1)
    # BF16_Optimizer: no zero_stage, padding kept and recorded on the last rank.
    write_zero12(f"{base}/bf16_optimizer_dp3", "global_step300", toy_model(torch.bfloat16, 4), 3, 1,
                 bf16_optimizer=True)
    # Rank files numbered past 9: natural order, not lexicographic.
    write_zero12(f"{base}/zero2_dp12", "global_step300", toy_model(torch.float16, 5), 12, 2)
    # ZeRO-3 over 3 ranks: ceil padding with garbage, frozen fragments, a shared param, sub-groups.
    write_zero3(f"{base}/zero3_dp3", "global_step300", toy_model(torch.bfloat16, 6), 3)
    # HF Trainer wraps the DeepSpeed folder in checkpoint-N/ with its own files beside it.
    trainer = f"{base}/hf_trainer/checkpoint-300"
    write_zero3(trainer, "global_step300", toy_model(torch.float16, 7), 2)
    with open(os.path.join(trainer, "trainer_state.json"), "w") as f:
        f.write('{"global_step": 300, "log_history": []}\n')
    # ... and its own checkpoint files (training-saves.md 5.5): `latest` must win over them.
    torch.save({"python": 1, "numpy": 2, "cpu": torch.arange(8, dtype=torch.uint8)}, f"{trainer}/rng_state_0.pth")
    torch.save({"last_epoch": 300, "_step_count": 301}, f"{trainer}/scheduler.pt")
    torch.save({"output_dir": "out", "learning_rate": 1e-4}, f"{trainer}/training_args.bin")
    # CogVideo finetune/ SFT (accelerate + DeepSpeed ZeRO-2, tag pytorch_model): keys already diffusers names.
    sat = sat_transformer(128, 2, 16, "1.0", dtype=torch.bfloat16)
    diff = diffusers_names(sat)
    write_zero12(f"{base}/cogvideo_finetune/checkpoint-300", "pytorch_model", sat_model(diff, torch.bfloat16, 8), 2, 2)
    # A SAT engine save per tag (SAT writes no optim files): `latest` names the plain iteration.
    sat_sd = sat_transformer(128, 2, 16, "1.0")
    for tag, scale in (("1000", 1.0), ("1000-ema", 0.5)):
        os.makedirs(f"{base}/sat_run/{tag}", exist_ok=True)
        torch.save({"module": {k: v * scale for k, v in sat_sd.items()}, "iteration": 1000, "global_steps": 1000,
                    "ds_version": VERSION, "param_shapes": [], "optimizer": None},
                   f"{base}/sat_run/{tag}/mp_rank_00_model_states.pt")
    with open(f"{base}/sat_run/latest", "w") as f:
        f.write("1000")
    # The same SAT transformer trained over 2 model-parallel ranks: merged, it must equal sat_run's 1000 tag.
    write_sat_model_parallel(f"{base}/sat_mp2", "1000", sat_sd, 2)
    # Lightning's DeepSpeed strategy (2.0, ZeRO-2) fine-tuning an XLM-R model held as `self.model`: the .ckpt
    # path is a folder with tag `checkpoint`, module names under `_forward_module.model.`, and the Lightning dict
    # (minus state_dict and optimizer_states) as the engine's client state (training-saves.md 3.1, 5.4).
    from families import training_saves, xlmr_hf  # here: both import this module
    torch.manual_seed(31)
    hf = xlmr_hf.hf_mlm(prefix="", lm_head=False, position_ids=False)
    client = training_saves.lightning_client_state(hf, version="2.0.9")
    del client["optimizer_states"]
    write_zero12(f"{base}/lightning_zero2/epoch=3-step=1500.ckpt", "checkpoint",
                 sat_model({f"_forward_module.model.{k}": t for k, t in hf.items()}, torch.float16, 9), 2, 2,
                 extra=client)
