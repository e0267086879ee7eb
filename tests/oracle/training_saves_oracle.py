#!/usr/bin/python3
"""Oracle for what training runs leave behind (issue #15; training-saves.md 2 and 5).

    /usr/bin/python3 tests/oracle/training_saves_oracle.py build/bin/ckptconv tests/corpus

- SAT/DeepSpeed engine saves convert with both CogVideoX plugins; every non-model entry is left out under its
  category, and a tensor nobody knows is still refused by name.
- SAT LoRA fine-tunes (30 and 42 layers) export as a diffusers LoRA adapter: names and values bit for bit, the
  LoraConfig in lora_adapter_metadata, and a load into the diffusers LoRA module tree written here.
- --option lora=merge: W + (alpha/r)·B·A with SAT's merge_linear_lora arithmetic (written here from the spec:
  the update in fp32, transposed, rounded to the weight dtype, added in that dtype), then the usual SAT ->
  diffusers rules: bit for bit against torch's own kernels.
- A fairseq save with optimizer state and an EMA copy converts to a transformers folder.
"""
import json
import os
import shutil
import sys
import tempfile

import torch

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "corpus"))
import cogvideox_oracle  # noqa: E402
import families.training_saves  # noqa: E402,F401 (the stand-ins for the classes training saves pickle)
from cogvideox_oracle import PREFIX  # noqa: E402
from oracle_cases import bits, check_metadata, expect_refused, read_safetensors, run_cases, run_cli  # noqa: E402

ENGINE = "cogvideox_sat/1.0/engine_save_30l.pt"
LORA_10 = "cogvideox_sat/1.0/lora_30l_r4.pt"
LORA_15 = "cogvideox_sat/1.5/lora_42l_r8.pt"
# Every top-level entry of the engine save but `module`, as training-saves.md 5.1 and 3.2 classify them.
ENGINE_STATE = {
    "RNG": ["cuda_rng_state", "np_rng_state", "random_rng_state", "rng_tracker_states", "torch_rng_state"],
    "optimizer": ["optimizer"],
    "scheduler": ["client_lr_scheduler", "lr_scheduler"],
    "step counters": ["global_samples", "global_steps", "iteration", "skipped_steps"],
    "DeepSpeed bookkeeping": ["buffer_names", "data_sampler", "dp_world_size", "ds_config", "ds_version",
                              "mp_world_size", "random_ltd", "sparse_tensor_module_names"],
}


def convert(cli, src, out, *extra):
    report = out + ".report.json"
    r = run_cli(cli, "convert", src, "-o", out, "--report", report, *extra)
    assert r.returncode == 0, r.stderr
    with open(report) as f:
        return json.load(f)


def check_engine_save(cli, corpus):
    """Both CogVideoX plugins convert a full engine save; the training state is listed by category."""
    src = os.path.join(corpus, ENGINE)
    save = torch.load(src)
    with tempfile.TemporaryDirectory() as tmp:
        report = convert(cli, src, os.path.join(tmp, "t"))
        assert report["training_state"] == ENGINE_STATE, report["training_state"]
        got, _ = read_safetensors(os.path.join(tmp, "t", "transformer", "diffusion_pytorch_model.safetensors"))
        expected = cogvideox_oracle.reference(save["module"], False, PREFIX)
        assert set(got) == set(expected), sorted(set(got) ^ set(expected))[:4]
        assert all(torch.equal(bits(got[k]), bits(v)) for k, v in expected.items())
        dropped = {d[1] for r in report["roots"] if r["name"] != "module" for d in r["dropped_samples"]}
        assert dropped == {"training state: RNG", "training state: optimizer"}, dropped
        vae = convert(cli, src, os.path.join(tmp, "v"), "--plugin", "cogvideox_vae", "--option", "variant=2b")
        assert vae["training_state"] == ENGINE_STATE, vae["training_state"]


def check_unknown_root_refused(cli, corpus):
    """A tensor outside the model that no framework's training state explains is refused by name (exit 5)."""
    save = torch.load(os.path.join(corpus, ENGINE))
    save["my_trainer_cache"] = {"buffer": torch.zeros(3)}
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "odd.pt")
        torch.save(save, src)
        expect_refused(cli, src, os.path.join(tmp, "out"), "my_trainer_cache/buffer")


def lora_modules(save):
    """(layer, diffusers module, SAT base key, partition) for every LoRA partition of a SAT LoRA save."""
    out = []
    for key in save["module"]:
        if key.endswith("query_key_value.original.weight") or key.endswith("dense.original.weight"):
            base = key[:-len("original.weight")]
            layer = int(key[len(PREFIX):].split(".")[2])
            if "query_key_value" in key:
                out += [(layer, f"transformer_blocks.{layer}.attn1.{m}", base, j) for j, m in enumerate(("to_q", "to_k", "to_v"))]
            else:
                out.append((layer, f"transformer_blocks.{layer}.attn1.to_out.0", base, 0))
    return out


def diffusers_lora_tree(config, rank):
    """The LoRA layers diffusers' load_lora_adapter builds on CogVideoXTransformer3DModel for these target
    modules: lora_A Linear(in, r), lora_B Linear(r, out) of each attention's to_q/k/v and to_out.0."""
    width = config["num_attention_heads"] * config["attention_head_dim"]
    tree = {}
    for i in range(config["num_layers"]):
        for m in ("to_q", "to_k", "to_v", "to_out.0"):
            tree[f"transformer_blocks.{i}.attn1.{m}.lora_A.weight"] = (rank, width)
            tree[f"transformer_blocks.{i}.attn1.{m}.lora_B.weight"] = (width, rank)
    return tree


def check_adapter(cli, corpus, rel, layers, rank, alpha=None):
    src = os.path.join(corpus, rel)
    save = torch.load(src)
    extra = ("--option", f"lora_alpha={alpha}") if alpha else ()
    with tempfile.TemporaryDirectory() as tmp:
        report = convert(cli, src, os.path.join(tmp, "lora"), *extra)
        assert os.listdir(os.path.join(tmp, "lora")) == ["pytorch_lora_weights.safetensors"]
        got, meta = read_safetensors(os.path.join(tmp, "lora", "pytorch_lora_weights.safetensors"))
        modules = lora_modules(save)
        assert len(got) == 8 * layers == 2 * len(modules), len(got)
        for _, module, base, j in modules:
            for ab in "AB":
                t = got[f"transformer.{module}.lora_{ab}.weight"]
                assert torch.equal(bits(t), bits(save["module"][f"{base}matrix_{ab}.{j}"])), module
        check_metadata({k: v for k, v in meta.items() if k != "lora_adapter_metadata"}, "cogvideox_sat")
        text = meta["lora_adapter_metadata"]
        config = json.loads(text)
        assert text == json.dumps(config, indent=2, sort_keys=True), "not laid out as diffusers writes it"
        assert config == {"transformer.lora_alpha": float(alpha or 1), "transformer.r": rank,
                          "transformer.target_modules": sorted(m for _, m, _, _ in modules)}, config
        # diffusers' pipeline loader keeps the "transformer." keys and strips the prefix; PEFT's layers must
        # then take every tensor with its shape (strict: none missing, none left over).
        config_json = {"num_attention_heads": 2, "attention_head_dim": 16, "num_layers": layers}
        tree = diffusers_lora_tree(config_json, rank)
        loaded = {k[len("transformer."):]: tuple(v.shape) for k, v in got.items() if k.startswith("transformer.")}
        assert loaded == tree, sorted(set(loaded.items()) ^ set(tree.items()))[:4]
        scale = float(alpha or 1) / rank
        assert any(f"set_adapters([name], [{scale}])" in n for n in report["notes"]), report["notes"]
        assert report["training_state"]["RNG"] == ENGINE_STATE["RNG"], report["training_state"]


TRAINING_CONFIG = """model:
  network_config:
    target: dit_video_concat.DiffusionTransformer
    params:
      modules:
        lora_config:
          target: sat.model.finetune.lora2.LoraMixin
          params:
            r: 4
            lora_alpha: 8
"""


def adapter_alpha(folder):
    _, meta = read_safetensors(os.path.join(folder, "pytorch_lora_weights.safetensors"))
    return json.loads(meta["lora_adapter_metadata"])["transformer.lora_alpha"]


def check_alpha_from_training_config(cli, corpus):
    """A SAT save folder (<root>/latest, training_config.yaml, <iter>/mp_rank_00_model_states.pt): alpha comes from
    the run's training_config.yaml (2.3) unless --option lora_alpha says otherwise; an unreadable one is noted and
    not used."""
    with tempfile.TemporaryDirectory() as tmp:
        root = os.path.join(tmp, "lora-run-12-01-10-00")
        os.makedirs(os.path.join(root, "500"))
        with open(os.path.join(root, "latest"), "w") as f:
            f.write("500\n")
        with open(os.path.join(corpus, LORA_10), "rb") as a, \
                open(os.path.join(root, "500", "mp_rank_00_model_states.pt"), "wb") as b:
            b.write(a.read())
        with open(os.path.join(root, "training_config.yaml"), "w") as f:
            f.write(TRAINING_CONFIG)
        report = convert(cli, root, os.path.join(tmp, "a"))
        assert adapter_alpha(os.path.join(tmp, "a")) == 8.0
        assert any("scale alpha/r = 2.0" in n and "training_config.yaml" in n for n in report["notes"]), report["notes"]
        convert(cli, root, os.path.join(tmp, "b"), "--option", "lora_alpha=2")
        assert adapter_alpha(os.path.join(tmp, "b")) == 2.0
        with open(os.path.join(root, "training_config.yaml"), "w") as f:
            f.write("a: " + "[" * 100000)  # yaml-cpp would recurse this deep: refused before parsing
        report = convert(cli, root, os.path.join(tmp, "c"))
        assert adapter_alpha(os.path.join(tmp, "c")) == 1.0
        assert any("not used" in n and "nested deeper" in n for n in report["notes"]), report["notes"]
        with open(os.path.join(root, "training_config.yaml"), "w") as f:
            f.write(TRAINING_CONFIG.replace("lora_alpha: 8", "lora_alpha: -8"))
        report = convert(cli, root, os.path.join(tmp, "d"))
        assert adapter_alpha(os.path.join(tmp, "d")) == 1.0
        assert any("gives lora_alpha '-8', not a positive number" in n for n in report["notes"]), report["notes"]


def sat_merge(module, scale):
    """lora2.py merge_linear_lora on every wrapped linear, then the plain names SAT's model would have."""
    out = {}
    for key, t in module.items():
        if ".matrix_" in key:
            continue
        if ".original." in key:
            base = key.split(".original.")[0] + "."
            if key.endswith(".weight"):
                parts = 3 if "query_key_value" in key else 1
                delta = torch.cat([(module[f"{base}matrix_A.{j}"].float().t() @ module[f"{base}matrix_B.{j}"].float().t())
                                   * scale for j in range(parts)], dim=-1)
                t = t + delta.t().to(t.dtype)  # rounded to the weight dtype first, then a 16-bit add
            key = key.replace(".original.", ".")
        out[key] = t
    return out


def ulps_apart(a, b):
    """Element count whose bit patterns differ, and the largest difference in units of the last place."""
    ia, ib = bits(a).to(torch.int64), bits(b).to(torch.int64)
    return int((ia != ib).sum()), int((ia - ib).abs().max()) if ia.numel() else 0


def check_merge(cli, corpus, rel, rank):
    src = os.path.join(corpus, rel)
    save = torch.load(src)
    with tempfile.TemporaryDirectory() as tmp:
        report = convert(cli, src, os.path.join(tmp, "m"), "--option", "lora=merge")
        got, meta = read_safetensors(os.path.join(tmp, "m", "transformer", "diffusion_pytorch_model.safetensors"))
        check_metadata(meta, "cogvideox_sat")
        expected = cogvideox_oracle.reference(sat_merge(save["module"], 1.0 / rank), False, PREFIX)
        assert set(got) == set(expected), sorted(set(got) ^ set(expected))[:4]
        differing = {k: ulps_apart(got[k], v) for k, v in expected.items() if not torch.equal(bits(got[k]), bits(v))}
        assert not differing, f"merged weights differ from torch's fp32 matmul cast the same way: {differing}"
        plain = cogvideox_oracle.reference(sat_merge(save["module"], 0.0), False, PREFIX)
        changed = [k for k in expected if not torch.equal(bits(expected[k]), bits(plain[k]))]
        assert changed and all(".attn1.to_" in k and k.endswith(".weight") for k in changed), changed[:4]
        assert any("LoRA merged" in n for n in report["notes"]), report["notes"]
        with open(os.path.join(tmp, "m", "transformer", "config.json")) as f:
            assert json.load(f)["num_layers"] == len({k.split(".")[1] for k in got if k.startswith("transformer_blocks.")})


def check_lora_refusals(cli, corpus):
    """lora= on a plain transformer, or matrices that fit no partition: exit 5 with the reason."""
    with tempfile.TemporaryDirectory() as tmp:
        expect_refused(cli, os.path.join(corpus, ENGINE), os.path.join(tmp, "x"), "not a SAT LoRA fine-tune",
                       "--option", "lora=adapter")
        expect_refused(cli, os.path.join(corpus, "cogvideox_sat/1.0/lora_tiny.pt"), os.path.join(tmp, "x"),
                       "belongs to no LoRA partition")
        save = torch.load(os.path.join(corpus, LORA_10))
        key = PREFIX + "transformer.layers.3.attention.query_key_value.matrix_B.1"
        save["module"][key] = save["module"][key][:16]  # half the rows of the K partition
        src = os.path.join(tmp, "bad.pt")
        torch.save(save, src)
        expect_refused(cli, src, os.path.join(tmp, "x"), "matrix_A/B.1 have shapes")


def check_fairseq_training_save(cli, corpus):
    """fairseq's --store-ema save: the model converts, the EMA copy and optimizer state are left out by kind."""
    src = os.path.join(corpus, "xlmr_hf", "xlmr_fairseq_training_save.pt")
    with tempfile.TemporaryDirectory() as tmp:
        report = convert(cli, src, os.path.join(tmp, "hf"), "--option", "heads=2")
        assert report["training_state"] == {
            "EMA copy": ["extra_state.ema"], "configuration": ["args"],
            "optimizer": ["last_optimizer_state", "optimizer_history"],
            "trainer state": ["criterion", "extra_state", "task_state"]}, report["training_state"]
        save = torch.load(src)

        def same_as_clean_save(out, model, name):
            """`out`'s weights equal the conversion of a clean save holding only args and `model`."""
            clean = os.path.join(tmp, name + ".pt")
            torch.save({"args": save["args"], "model": model}, clean)
            convert(cli, clean, os.path.join(tmp, name), "--option", "heads=2")
            got, _ = read_safetensors(os.path.join(out, "model.safetensors"))
            want, _ = read_safetensors(os.path.join(tmp, name, "model.safetensors"))
            assert set(got) == set(want) and all(torch.equal(bits(got[k]), bits(want[k])) for k in want)
            return got

        same_as_clean_save(os.path.join(tmp, "hf"), save["model"], "clean")
        # --option ema=1: the EMA copy instead, as fairseq's load_ema_from_checkpoint swaps it in.
        report = convert(cli, src, os.path.join(tmp, "ema"), "--option", "heads=2", "--option", "ema=1")
        got = same_as_clean_save(os.path.join(tmp, "ema"), save["extra_state"]["ema"], "clean_ema")
        assert not torch.equal(got["roberta.embeddings.word_embeddings.weight"],
                               read_safetensors(os.path.join(tmp, "hf", "model.safetensors"))[0][
                                   "roberta.embeddings.word_embeddings.weight"]), "the EMA copy is not the model"
        assert any("EMA copy" in n for n in report["notes"]), report["notes"]
        expect_refused(cli, os.path.join(corpus, "xlmr_hf", "xlmr_fairseq_2019.pt"), os.path.join(tmp, "x"),
                       "not a fairseq save with an EMA copy", "--option", "heads=2", "--option", "ema=1")


def check_hf_trainer_checkpoint(cli, corpus):
    """HF Trainer's checkpoint-N/ (no DeepSpeed) as the input: its model.safetensors converts exactly as the
    file alone does; optimizer, scheduler, scaler, RNG and TrainingArguments files are named and never read."""
    folder = os.path.join(corpus, "xlmr_hf", "trainer_run", "checkpoint-500")
    for name in os.listdir(folder):  # the generator wrote what HF Trainer does: real pickles beside the weights
        if name.endswith((".pt", ".pth", ".bin")):
            torch.load(os.path.join(folder, name))
    args = torch.load(os.path.join(folder, "training_args.bin"))
    assert type(args).__module__ + "." + type(args).__name__ == "transformers.training_args.TrainingArguments"
    with tempfile.TemporaryDirectory() as tmp:
        report = convert(cli, folder, os.path.join(tmp, "from_folder.pt"), "--option", "heads=2")
        convert(cli, os.path.join(folder, "model.safetensors"), os.path.join(tmp, "from_file.pt"), "--option",
                "heads=2")
        got = torch.load(os.path.join(tmp, "from_folder.pt"))["model"]
        want = torch.load(os.path.join(tmp, "from_file.pt"))["model"]
        assert list(got) == list(want) and all(torch.equal(bits(got[k]), bits(want[k])) for k in want)
        note = [n for n in report["notes"] if n.startswith("training state beside the weights")]
        assert note == ["training state beside the weights, not read: optimizer.pt (optimizer state), "
                        "rng_state_0.pth (RNG state), rng_state_1.pth (RNG state), scaler.pt (AMP loss-scaler "
                        "state), scheduler.pt (LR scheduler state), training_args.bin (trainer arguments)"], note
        # A folder left with nothing but training state is refused by name, never read as weights.
        only_state = os.path.join(tmp, "only_state")
        os.makedirs(only_state)
        for name in ("optimizer.pt", "scheduler.pt"):
            shutil.copyfile(os.path.join(folder, name), os.path.join(only_state, name))
        expect_refused(cli, only_state, os.path.join(tmp, "x.pt"), "holds only training state (optimizer.pt "
                       "(optimizer state), scheduler.pt (LR scheduler state)), no weights", "--option", "heads=2",
                       code=3)


LIGHTNING_STATE = {"configuration": ["hparams_name", "hparams_type", "hyper_parameters"],
                   "optimizer": ["optimizer_states"], "scheduler": ["lr_schedulers"],
                   "step counters": ["epoch", "global_step"],
                   "trainer state": ["MixedPrecision", "callbacks", "loops", "pytorch-lightning_version"]}


def check_lightning_save(cli, corpus, rel, weights, *extra, unwrapped=None):
    """A whole Lightning .ckpt converts exactly as the bare weights it wraps; the rest is training state by kind.
    `unwrapped`: the LightningModule attribute the host takes off so the family's plugin recognises its keys."""
    src = os.path.join(corpus, rel)
    with tempfile.TemporaryDirectory() as tmp:
        report = convert(cli, src, os.path.join(tmp, "from_ckpt.safetensors"), *extra)
        convert(cli, os.path.join(corpus, weights), os.path.join(tmp, "bare.safetensors"), *extra)
        got, _ = read_safetensors(os.path.join(tmp, "from_ckpt.safetensors"))
        want, _ = read_safetensors(os.path.join(tmp, "bare.safetensors"))
        assert list(got) == list(want) and all(torch.equal(bits(got[k]), bits(want[k])) for k in want)
        assert report["training_state"] == LIGHTNING_STATE, report["training_state"]
        notes = [n for n in report["notes"] if n.startswith("Lightning save")]
        keys = len(torch.load(src)["state_dict"]) if unwrapped else 0
        assert notes == ([f"Lightning save: the LightningModule attribute '{unwrapped}' taken off the {keys} "
                          "state_dict keys"] if unwrapped else []), notes
        # --plugin none keeps the save as it is: nothing is unwrapped or dropped by a container change.
        r = run_cli(cli, "convert", src, "-o", os.path.join(tmp, "copy.pt"), "--plugin", "none", "-q")
        assert r.returncode == 0, r.stderr
        copy = torch.load(os.path.join(tmp, "copy.pt"))
        assert list(copy["state_dict"]) == list(torch.load(src)["state_dict"])


if __name__ == "__main__":
    cli, corpus = sys.argv[1:3]
    sys.exit(run_cases([
        ("SAT engine save (30 layers, RNG, optimizer, scheduler, DeepSpeed keys): transformer and VAE convert, "
         "training state by category", lambda: check_engine_save(cli, corpus)),
        ("an unknown tensor outside the model is refused by name", lambda: check_unknown_root_refused(cli, corpus)),
        ("SAT LoRA 1.0 (30 layers, r 4) -> diffusers adapter, metadata, LoRA module tree",
         lambda: check_adapter(cli, corpus, LORA_10, 30, 4)),
        ("SAT LoRA 1.5 (42 layers, r 8, bf16) -> adapter with --option lora_alpha=4",
         lambda: check_adapter(cli, corpus, LORA_15, 42, 8, alpha=4)),
        ("SAT LoRA 1.0 merged: bit for bit with SAT's arithmetic", lambda: check_merge(cli, corpus, LORA_10, 4)),
        ("SAT LoRA 1.5 merged (bf16): bit for bit", lambda: check_merge(cli, corpus, LORA_15, 8)),
        ("lora= on a plain transformer, stray or misshapen matrices: exit 5", lambda: check_lora_refusals(cli, corpus)),
        ("lora_alpha from the save's training_config.yaml; --option wins; a hostile one is not used",
         lambda: check_alpha_from_training_config(cli, corpus)),
        ("fairseq save with EMA and optimizer state -> transformers folder; --option ema=1 converts the EMA copy",
         lambda: check_fairseq_training_save(cli, corpus)),
        ("HF Trainer checkpoint-N/ folder: the weights convert as the file alone, training state named, unread",
         lambda: check_hf_trainer_checkpoint(cli, corpus)),
        ("Lightning .ckpt of an XLM-R model under `model.`: unwrapped, converts as the bare weights",
         lambda: check_lightning_save(cli, corpus, "xlmr_hf/lightning_epoch3.ckpt", "xlmr_hf/xlmr_base_model.safetensors",
                                      "--option", "heads=2", "--to", "safetensors", unwrapped="model")),
        ("Lightning .ckpt of a CLIP vision tower under `encoder.`: found under the prefix, converts as the bare "
         "weights", lambda: check_lightning_save(cli, corpus, "clip_vision/lightning_l14.ckpt",
                                                 "clip_vision/clip_vision_l14.safetensors")),
    ]))
