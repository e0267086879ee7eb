#!/usr/bin/python3
"""Oracle for DeepSpeed checkpoint folders (issue #16; training-saves.md 3).

    /usr/bin/python3 tests/oracle/deepspeed_oracle.py build/bin/ckptconv tests/corpus

The consolidation is written here from the spec, independently of the C++ and of the fixture generator: it
reads the rank files with torch.load, concatenates ZeRO 1/2 partitions per param group and walks param_shapes
(3.4), cuts ZeRO 3 params out of each rank's ceil(numel/dp) slices (3.5), takes frozen params and buffers as
stored and ties aliases from shared_params, and picks the copy by 3.13's rule. Every tensor ckptconv writes
with --plugin none must equal it bit for bit; family conversions of DeepSpeed folders must equal the same
conversion of the consolidated state dict; broken folders exit 3 with nothing written.
"""
import collections
import enum
import glob
import json
import os
import re
import shutil
import sys
import tempfile
import types
import zipfile

import torch

sys.path.insert(0, os.path.dirname(__file__))
from oracle_cases import bits, read_safetensors, run_cases, run_cli  # noqa: E402

class DynamicLossScaler:
    """Stand-ins for the classes the optim files pickle (DeepSpeed is not installable here); torch.load needs
    them under DeepSpeed's names, and re-saving a broken copy pickles them back under the same names."""


class fragment_address:  # noqa: N801 (DeepSpeed's name)
    pass


class ZeroStageEnum(int, enum.Enum):
    disabled, optimizer_states, gradients, weights = 0, 1, 2, 3


class AttributeDict(dict):
    """Lightning's hparams class, which Lightning's client state pickles as `hparams_type`."""


def stub_deepspeed_classes():
    for where, cls in (("deepspeed.runtime.fp16.loss_scaler", DynamicLossScaler),
                       ("deepspeed.runtime.zero.config", ZeroStageEnum),
                       ("deepspeed.utils.tensor_fragment", fragment_address),
                       ("lightning.fabric.utilities.data", AttributeDict)):
        parts = where.split(".")
        for i in range(1, len(parts) + 1):
            sys.modules.setdefault(".".join(parts[:i]), types.ModuleType(".".join(parts[:i])))
        cls.__module__ = where
        setattr(sys.modules[where], cls.__name__, cls)


stub_deepspeed_classes()
DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
TOY = ["zero2_dp2", "zero2_dp3_bf16", "zero1_dp2", "bf16_optimizer_dp3", "zero2_dp12", "zero3_dp3",
       "hf_trainer/checkpoint-300"]


def rank_of(path):
    return int(re.search(r"zero_pp_rank_(\d+)_", os.path.basename(path)).group(1))


def consolidate(folder, dtype=None):
    """name -> tensor as training-saves.md 3.4/3.5/3.13 define the consolidated model."""
    latest = os.path.join(folder, "latest")
    tag = os.path.join(folder, open(latest).read().strip()) if os.path.exists(latest) else folder
    optim = sorted(glob.glob(os.path.join(tag, "*zero_pp_rank_*_optim_states.pt")), key=rank_of)
    zero3_states = sorted(glob.glob(os.path.join(tag, "zero_pp_rank_*_model_states.pt")), key=rank_of)
    states = [torch.load(p) for p in zero3_states] or [torch.load(os.path.join(tag, "mp_rank_00_model_states.pt"))]
    top = states[0]
    module = collections.OrderedDict(top["module"])
    buffers = set(top.get("buffer_names", []))
    train = next(t.dtype for k, t in module.items() if k not in buffers and t.is_floating_point())
    out = collections.OrderedDict(module)
    if optim:
        inner = [torch.load(p)["optimizer_state_dict"] for p in optim]
        dp = len(inner)
        zero3 = "fp32_flat_groups" in inner[0]
        use_master = zero3 or (dtype is not None and (dtype == torch.float32 or dtype != train))
        if use_master:
            want = dtype or train
            if zero3:
                flats = [torch.cat(list(o["fp32_flat_groups"])) for o in inner]
                offset = 0
                for group in top["param_shapes"]:
                    for name, shape in group.items():
                        n = shape.numel()
                        size = -(-n // dp)
                        out[name] = torch.cat([f[offset:offset + size] for f in flats])[:n].view(shape).to(want)
                        offset += size
                for name, shape in top.get("frozen_param_shapes", {}).items():
                    n = shape.numel()
                    size = -(-n // dp)
                    parts = [s["frozen_param_fragments"][name][:size] for s in states]
                    out[name] = torch.cat(parts)[:n].view(shape).to(dtype or parts[0].dtype)
            else:
                for g, group in enumerate(top["param_shapes"]):
                    flat = torch.cat([o["single_partition_of_fp32_groups"][g] for o in inner])
                    offset = 0
                    for name, shape in group.items():
                        out[name] = flat[offset:offset + shape.numel()].view(shape).to(want)
                        offset += shape.numel()
    if dtype is not None:
        for k, t in out.items():
            if t.is_floating_point() and t.dtype != dtype:
                out[k] = t.to(dtype)
    for alias, stored in top.get("shared_params", {}).items():
        out[alias] = out[stored]
    return out


def consolidated_by_ckptconv(cli, folder, tmp, *extra):
    path = os.path.join(tmp, "c.safetensors")
    r = run_cli(cli, "convert", folder, "--plugin", "none", "-o", path, "--force", *extra)
    assert r.returncode == 0, r.stderr
    got, meta = read_safetensors(path)
    return got, meta, r.stderr


def same(got, expected, tied=()):
    assert set(got) | set(tied) == set(expected), sorted(set(got) ^ set(expected))
    for k, t in got.items():
        assert t.dtype == expected[k].dtype and t.shape == expected[k].shape, (k, t.dtype, expected[k].dtype)
        assert torch.equal(bits(t), bits(expected[k])), k


def check_toy(cli, corpus, name, dtype=None):
    folder = os.path.join(corpus, "deepspeed", name)
    with tempfile.TemporaryDirectory() as tmp:
        extra = ("--dtype", dtype) if dtype else ()
        got, _, stderr = consolidated_by_ckptconv(cli, folder, tmp, *extra)
        expected = consolidate(folder, DTYPES.get(dtype))
        same(got, expected, tied=["head.weight"])
        assert "tied: head.weight is stored once, as embed.weight" in stderr, stderr
        assert "DeepSpeed" in stderr and "data-parallel ranks read" in stderr, stderr
        # The pt output: torch.load gives the same state dict, the tie kept as one storage.
        pt = os.path.join(tmp, "c.pt")
        r = run_cli(cli, "convert", folder, "--plugin", "none", "-o", pt, *extra)
        assert r.returncode == 0, r.stderr
        loaded = torch.load(pt)
        same(loaded, expected)
        assert loaded["head.weight"].data_ptr() == loaded["embed.weight"].data_ptr()
        # torch.load does not check CRCs; zip readers do (records made while writing once carried CRC 0).
        with zipfile.ZipFile(pt) as z:
            assert z.testzip() is None, f"{pt}: a record's CRC-32 does not match its bytes"


def check_master_rule(cli, corpus):
    """--dtype picks the copy (3.13): fp32 is the master; bf16 of an fp16 run is the master rounded once, which
    differs from rounding `module` again somewhere; the training dtype itself is `module` as saved."""
    folder = os.path.join(corpus, "deepspeed", "zero2_dp2")
    with tempfile.TemporaryDirectory() as tmp:
        got, _, stderr = consolidated_by_ckptconv(cli, folder, tmp, "--dtype", "bf16")
        assert "the fp32 master rebuilt from the partitions, rounded once to bf16" in stderr, stderr
        twice = {k: t.to(torch.bfloat16) for k, t in torch.load(
            os.path.join(folder, "global_step300", "mp_rank_00_model_states.pt"))["module"].items()}
        assert any(not torch.equal(bits(got[k]), bits(twice[k])) for k in got if k in twice and
                   got[k].is_floating_point()), "rounding once must differ from rounding the fp16 copy again"
        _, _, stderr = consolidated_by_ckptconv(cli, folder, tmp, "--dtype", "fp16")
        assert "`module` (f16) as saved" in stderr, stderr


def check_master_check(cli, corpus):
    """--check-master proves master == module; a folder whose module was edited after saving is named."""
    folder = os.path.join(corpus, "deepspeed", "zero2_dp3_bf16")
    with tempfile.TemporaryDirectory() as tmp:
        _, _, stderr = consolidated_by_ckptconv(cli, folder, tmp, "--check-master")
        assert "equals `module` bit for bit in all 6 trainable params" in stderr, stderr
        broken = os.path.join(tmp, "broken")
        shutil.copytree(folder, broken)
        states = os.path.join(broken, "global_step300", "mp_rank_00_model_states.pt")
        save = torch.load(states)
        save["module"]["layers.0.bias"][2] += 1
        torch.save(save, states)
        out = os.path.join(tmp, "never.safetensors")
        r = run_cli(cli, "convert", broken, "--plugin", "none", "-o", out, "--check-master")
        assert r.returncode == 7 and "layers.0.bias (1 of 6 elements)" in r.stderr, (r.returncode, r.stderr)
        assert not os.path.exists(out)


def check_family(cli, corpus, rel, dtype=None):
    """A family conversion of a DeepSpeed folder equals the same conversion of the consolidated state dict."""
    folder = os.path.join(corpus, "deepspeed", rel)
    with tempfile.TemporaryDirectory() as tmp:
        plain = os.path.join(tmp, "consolidated.pt")
        torch.save({"module": consolidate(folder, DTYPES.get(dtype))}, plain)
        extra = ("--dtype", dtype) if dtype else ()
        for name, src in (("folder", folder), ("plain", plain)):
            r = run_cli(cli, "convert", src, "-o", os.path.join(tmp, name), "-q", *extra)
            assert r.returncode == 0, r.stderr
        a, _ = read_safetensors(os.path.join(tmp, "folder", "transformer", "diffusion_pytorch_model.safetensors"))
        b, _ = read_safetensors(os.path.join(tmp, "plain", "transformer", "diffusion_pytorch_model.safetensors"))
        same(a, b)
        with open(os.path.join(tmp, "folder", "transformer", "config.json")) as f:
            assert json.load(f)["_class_name"] == "CogVideoXTransformer3DModel"


def check_lightning(cli, corpus):
    """Lightning's DeepSpeed strategy folder: --plugin none writes what Lightning's own converter would (its client
    state, `state_dict` = the consolidation without `_forward_module.`); the family conversion equals that of the
    bare weights (the LightningModule attribute `model.` taken off)."""
    folder = os.path.join(corpus, "deepspeed", "lightning_zero2", "epoch=3-step=1500.ckpt")
    wrapped = consolidate(folder)
    assert all(k.startswith("_forward_module.model.") for k in wrapped)
    bare = collections.OrderedDict((k[len("_forward_module.model."):], t) for k, t in wrapped.items())
    with tempfile.TemporaryDirectory() as tmp:
        pt = os.path.join(tmp, "c.ckpt")
        r = run_cli(cli, "convert", folder, "--plugin", "none", "--to", "pt", "-o", pt)
        assert r.returncode == 0, r.stderr
        assert "Lightning DeepSpeed strategy save (Lightning 2.0.9)" in r.stderr, r.stderr
        ckpt = torch.load(pt)
        engine = {"module", "optimizer", "lr_scheduler", "csr_tensor_module_names", "skipped_steps", "global_steps",
                  "dp_world_size", "mp_world_size"}
        assert not engine & set(ckpt), engine & set(ckpt)
        assert (ckpt["epoch"], ckpt["global_step"], ckpt["pytorch-lightning_version"]) == (3, 1500, "2.0.9")
        same(ckpt["state_dict"], collections.OrderedDict(("model." + k, t) for k, t in bare.items()))
        plain = os.path.join(tmp, "bare.pt")
        torch.save(bare, plain)
        for name, src in (("folder", folder), ("plain", plain)):
            r = run_cli(cli, "convert", src, "-o", os.path.join(tmp, name + ".safetensors"), "--option", "heads=2",
                        "-q")
            assert r.returncode == 0, r.stderr
        same(read_safetensors(os.path.join(tmp, "folder.safetensors"))[0],
             read_safetensors(os.path.join(tmp, "plain.safetensors"))[0])


def check_verify(cli, corpus):
    """verify reads a DeepSpeed folder with convert's copy rule: a consolidation and a family conversion of the
    ZeRO-3 master check out identical, and the provenance names the rank files read."""
    with tempfile.TemporaryDirectory() as tmp:
        for rel, extra, out in (("zero3_dp3", ("--plugin", "none"), "c.safetensors"),
                                ("cogvideo_finetune/checkpoint-300", ("--dtype", "fp32"), "t")):
            folder = os.path.join(corpus, "deepspeed", rel)
            dst = os.path.join(tmp, out)
            r = run_cli(cli, "convert", folder, "-o", dst, "-q", *extra)
            assert r.returncode == 0, r.stderr
            r = run_cli(cli, "verify", folder, dst, *extra)
            assert r.returncode == 0 and "identical" in r.stdout + r.stderr, (r.returncode, r.stdout, r.stderr)
        assert "bf16_zero_pp_rank_1_mp_rank_00_optim_states.pt" in r.stdout + r.stderr


def broken_copy(corpus, tmp, name):
    dst = tempfile.mkdtemp(prefix=name.replace("/", "_") + "-", dir=tmp)
    os.rmdir(dst)
    shutil.copytree(os.path.join(corpus, "deepspeed", name), dst)
    return dst, os.path.join(dst, "global_step300")


def check_refusals(cli, corpus):
    """Hostile variants: exit 3, the reason named, nothing written."""
    with tempfile.TemporaryDirectory() as tmp:
        cases = []
        folder, tag = broken_copy(corpus, tmp, "zero2_dp3_bf16")  # a missing rank
        os.remove(os.path.join(tag, "bf16_zero_pp_rank_1_mp_rank_00_optim_states.pt"))
        cases.append((folder, "a rank is missing"))
        folder, tag = broken_copy(corpus, tmp, "zero2_dp2")  # partition_count disagrees with the files
        os.remove(os.path.join(tag, "zero_pp_rank_1_mp_rank_00_optim_states.pt"))
        cases.append((folder, "partition_count says 2 ranks, but the folder holds 1"))
        folder, tag = broken_copy(corpus, tmp, "zero2_dp2")  # lengths that do not add up
        path = os.path.join(tag, "zero_pp_rank_1_mp_rank_00_optim_states.pt")
        save = torch.load(path)
        groups = save["optimizer_state_dict"]["single_partition_of_fp32_groups"]
        groups[0] = groups[0][:-3].clone()
        torch.save(save, path)
        cases.append((folder, "but the ranks' partitions hold"))
        folder, tag = broken_copy(corpus, tmp, "zero2_dp2")  # one rank's partitions in another dtype
        path = os.path.join(tag, "zero_pp_rank_1_mp_rank_00_optim_states.pt")
        save = torch.load(path)
        groups = save["optimizer_state_dict"]["single_partition_of_fp32_groups"]
        groups[0] = groups[0].half()
        torch.save(save, path)
        cases.append((folder, "holds f16 partitions where rank 0's are f32"))
        folder, tag = broken_copy(corpus, tmp, "zero2_dp2")  # a param shape whose numel overflows 64 bits
        path = os.path.join(tag, "mp_rank_00_model_states.pt")
        save = torch.load(path)
        save["param_shapes"][0]["embed.weight"] = torch.Size([2 ** 40, 2 ** 40])
        torch.save(save, path)
        cases.append((folder, "param_shapes numel overflows 64 bits"))
        folder, tag = broken_copy(corpus, tmp, "zero2_dp2")  # an optim file naming a global off the allow-list
        path = os.path.join(tag, "zero_pp_rank_1_mp_rank_00_optim_states.pt")
        save = torch.load(path)
        save["optimizer_state_dict"]["loss_scaler"] = os.system
        torch.save(save, path)
        cases.append((folder, "unsafe pickle: global 'posix.system'"))
        folder, tag = broken_copy(corpus, tmp, "zero3_dp3")  # a ZeRO-3 rank one element short
        path = os.path.join(tag, "bf16_zero_pp_rank_2_mp_rank_00_optim_states.pt")
        save = torch.load(path)
        save["optimizer_state_dict"]["fp32_flat_groups"][-1] = save["optimizer_state_dict"]["fp32_flat_groups"][-1][:-1].clone()
        torch.save(save, path)
        cases.append((folder, "rank 2 holds"))
        folder, tag = broken_copy(corpus, tmp, "zero3_dp3")  # ZeRO-3 without its optim files
        for p in glob.glob(os.path.join(tag, "*optim_states.pt")):
            os.remove(p)
        cases.append((folder, "only placeholders"))
        for folder, message in cases:
            out = os.path.join(tmp, "out.safetensors")
            r = run_cli(cli, "convert", folder, "--plugin", "none", "-o", out)
            assert r.returncode == 3 and message in r.stderr, (folder, r.returncode, r.stderr)
            assert not os.path.exists(out)


# --- SAT model-parallel folders (training-saves.md 4) ----------------------------------------------------------

def sat_merge(parts):
    """SAT's merge() as training-saves.md 4.1 states it for CogVideoX (4.2): each column-parallel tensor is
    its `stride` blocks, each block the ranks' pieces in rank order; row-parallel weights are the ranks' columns
    side by side; every other tensor is rank 0's."""
    column = {"attention.query_key_value.weight": 3, "attention.query_key_value.bias": 3,
              "mlp.dense_h_to_4h.weight": 1, "mlp.dense_h_to_4h.bias": 1}
    row = ("attention.dense.weight", "mlp.dense_4h_to_h.weight")
    merged = {}
    for k, t in parts[0].items():
        stride = next((v for suffix, v in column.items() if k.endswith(suffix)), None)
        if stride is not None:
            per_block = t.shape[0] // stride
            merged[k] = torch.cat([p[k][j * per_block:(j + 1) * per_block] for j in range(stride) for p in parts])
        elif k.endswith(row):
            merged[k] = torch.cat([p[k] for p in parts], dim=1)
        else:
            assert all(torch.equal(bits(p[k]), bits(t)) for p in parts), f"{k} differs over the ranks"
            merged[k] = t
    return merged


def rank_modules(folder):
    tag = os.path.join(folder, "1000")
    return [torch.load(os.path.join(tag, f"mp_rank_{r:02d}_model_states.pt"))["module"] for r in range(2)]


def check_model_parallel(cli, corpus):
    """A SAT save over 2 model-parallel ranks: merged by cogvideox_sat's partition rules it is the one-rank save
    (sat_run, the same weights), so both the consolidation and the diffusers conversion must equal it."""
    folder = os.path.join(corpus, "deepspeed", "sat_mp2")
    whole = torch.load(os.path.join(corpus, "deepspeed", "sat_run", "1000", "mp_rank_00_model_states.pt"))["module"]
    merged = sat_merge(rank_modules(folder))
    same(merged, whole)  # the spec's merge undoes the generator's split
    with tempfile.TemporaryDirectory() as tmp:
        got, _, stderr = consolidated_by_ckptconv(cli, folder, tmp)
        same(got, merged)
        got, _, _ = consolidated_by_ckptconv(cli, folder, tmp, "--dtype", "bf16")  # split and whole tensors alike
        same(got, {k: t.to(torch.bfloat16) for k, t in merged.items()})
        assert "model-parallel save over 2 ranks merged with cogvideox_sat@" in stderr, stderr
        # 2 layers: Q/K/V and h_to_4h weight and bias column-parallel, dense and 4h_to_h weights row-parallel.
        assert "8 column-parallel, 4 row-parallel, 0 vocab-parallel" in stderr, stderr
        for name, src in (("mp", folder), ("one", os.path.join(corpus, "deepspeed", "sat_run"))):
            r = run_cli(cli, "convert", src, "-o", os.path.join(tmp, name), "-q")
            assert r.returncode == 0, r.stderr
        a, _ = read_safetensors(os.path.join(tmp, "mp", "transformer", "diffusion_pytorch_model.safetensors"))
        b, _ = read_safetensors(os.path.join(tmp, "one", "transformer", "diffusion_pytorch_model.safetensors"))
        same(a, b)
        r = run_cli(cli, "verify", folder, os.path.join(tmp, "mp"))
        assert r.returncode == 0 and "identical" in r.stdout + r.stderr, (r.returncode, r.stdout, r.stderr)
        r = run_cli(cli, "detect", folder)
        assert r.returncode == 0 and "cogvideox_sat" in r.stdout, (r.returncode, r.stdout, r.stderr)


def check_model_parallel_refusals(cli, corpus):
    """Model-parallel folders that cannot be merged: the reason named, nothing written."""
    def variant(tmp, name, change):
        dst = os.path.join(tmp, name)
        shutil.copytree(os.path.join(corpus, "deepspeed", "sat_mp2"), dst)
        change(os.path.join(dst, "1000"))
        return dst

    def edit(rank, fn):
        def change(tag):
            path = os.path.join(tag, f"mp_rank_{rank:02d}_model_states.pt")
            save = torch.load(path)
            fn(save)
            torch.save(save, path)
        return change

    layer = "model.diffusion_model.transformer.layers.0."
    with tempfile.TemporaryDirectory() as tmp:
        cases = [
            (variant(tmp, "missing", lambda tag: os.rename(os.path.join(tag, "mp_rank_01_model_states.pt"),
                                                           os.path.join(tag, "mp_rank_02_model_states.pt"))),
             3, "holds no mp_rank_*_model_states.pt file for model-parallel rank 1"),
            (variant(tmp, "keys", edit(1, lambda s: s["module"].pop(layer + "input_layernorm.weight"))),
             3, "key sets differ"),
            (variant(tmp, "replicated", edit(1, lambda s: s["module"][layer + "input_layernorm.weight"].add_(1))),
             3, "differs from rank 0's copy"),
            (variant(tmp, "shapes", edit(1, lambda s: s["module"].__setitem__(
                layer + "attention.dense.weight", s["module"][layer + "attention.dense.weight"][:, :-1].clone()))),
             3, "on rank 0: model-parallel ranks hold equal parts"),
            (variant(tmp, "world", edit(1, lambda s: s.__setitem__("mp_world_size", 4))),
             3, "says mp_world_size 4"),
            (variant(tmp, "lora", lambda tag: [edit(r, lambda s: s["module"].__setitem__(
                layer + "attention.query_key_value.matrix_A.0", torch.zeros(4, 128, dtype=torch.float16)))(tag)
                for r in range(2)]),
             5, "cannot be merged over model-parallel ranks: a LoRA trained model-parallel"),
            (variant(tmp, "zero", lambda tag: shutil.copy(
                glob.glob(os.path.join(corpus, "deepspeed", "zero2_dp2", "global_step300", "*optim_states.pt"))[0],
                os.path.join(tag, "zero_pp_rank_0_mp_rank_00_optim_states.pt"))),
             3, "model-parallel save with ZeRO partitions"),
            (variant(tmp, "universal", lambda tag: os.makedirs(os.path.join(tag, "zero", "embed.weight"))),
             3, "a DeepSpeed universal checkpoint"),
        ]
        for folder, code, message in cases:
            for extra in ((), ("--plugin", "none")):
                out = os.path.join(tmp, "out")
                r = run_cli(cli, "convert", folder, "-o", out, *extra)
                assert r.returncode == code and message in r.stderr, (folder, extra, r.returncode, r.stderr)
                assert not os.path.exists(out)


def main():
    cli, corpus = sys.argv[1], sys.argv[2]
    cases = [(f"{name}: --plugin none equals the spec's consolidation", lambda n=name: check_toy(cli, corpus, n))
             for name in TOY]
    cases += [(f"{name} --dtype {d}", lambda n=name, d=d: check_toy(cli, corpus, n, d))
              for name in ("zero2_dp2", "zero3_dp3", "bf16_optimizer_dp3") for d in ("fp32", "bf16")]
    cases += [
        ("--dtype picks the master or module (3.13)", lambda: check_master_rule(cli, corpus)),
        ("--check-master", lambda: check_master_check(cli, corpus)),
        ("CogVideo finetune/ folder (diffusers names) -> transformer/",
         lambda: check_family(cli, corpus, "cogvideo_finetune/checkpoint-300")),
        ("CogVideo finetune/ folder --dtype fp32 (the master)",
         lambda: check_family(cli, corpus, "cogvideo_finetune/checkpoint-300", "fp32")),
        ("SAT run folder: `latest`'s tag, not the -ema one", lambda: check_family(cli, corpus, "sat_run")),
        ("verify re-derives DeepSpeed conversions", lambda: check_verify(cli, corpus)),
        ("Lightning DeepSpeed strategy folder: Lightning's converter output; the family conversion of its model",
         lambda: check_lightning(cli, corpus)),
        ("broken folders are refused", lambda: check_refusals(cli, corpus)),
        ("SAT model-parallel folder merged by the plugin's partitions", lambda: check_model_parallel(cli, corpus)),
        ("model-parallel folders that cannot be merged are refused",
         lambda: check_model_parallel_refusals(cli, corpus)),
    ]
    return run_cases(cases)


if __name__ == "__main__":
    sys.exit(main())
