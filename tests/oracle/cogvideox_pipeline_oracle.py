#!/usr/bin/python3
"""Oracle for whole SAT folders -> one diffusers pipeline folder (cogvideox_sat + cogvideox_vae).

    /usr/bin/python3 tests/oracle/cogvideox_pipeline_oracle.py build/bin/ckptconv tests/corpus

Each component must equal the per-plugin Python references bit for bit; model_index.json and
scheduler/scheduler_config.json must hold what diffusers' save_pretrained writes for the pipeline
(cogvideox.md 7). The SAT folder's T5 folder becomes text_encoder/ as T5EncoderModel.from_pretrained
reads it (target-loaders.md D.2: key set and shapes written here from the config, decoder gone,
embed_tokens tied) and tokenizer/ as the upstream files, which sentencepiece loads (D.3), so
DiffusionPipeline.from_pretrained needs no argument (D.1). Failures leave nothing behind.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import sentencepiece
import torch

sys.path.insert(0, os.path.dirname(__file__))
import cogvideox_oracle  # noqa: E402
import cogvideox_vae_oracle  # noqa: E402
from oracle_cases import bits, check_metadata, read_safetensors, run_cases, strict_load  # noqa: E402

SCHEDULER = {"_class_name": "CogVideoXDDIMScheduler", "_diffusers_version": "0.32.0", "beta_end": 0.012,
             "beta_schedule": "scaled_linear", "beta_start": 0.00085, "clip_sample": False, "clip_sample_range": 1.0,
             "num_train_timesteps": 1000, "prediction_type": "v_prediction", "rescale_betas_zero_snr": True,
             "sample_max_value": 1.0, "set_alpha_to_one": True, "steps_offset": 0, "timestep_spacing": "trailing",
             "trained_betas": None}
PIPELINE_FILES = {"model_index.json", "scheduler/scheduler_config.json", "transformer/config.json",
                  "transformer/diffusion_pytorch_model.safetensors", "vae/config.json",
                  "vae/diffusion_pytorch_model.safetensors"}
TOKENIZER_FILES = {"spiece.model", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json"}
SHARDED_T5 = {"config.json", "model.safetensors.index.json", "model-00001-of-00002.safetensors",
              "model-00002-of-00002.safetensors"}


def t5_encoder_model_keys(config):
    """T5EncoderModel(config).state_dict(): names and shapes (transformers models/t5/modeling_t5.py)."""
    d, inner, ff = config["d_model"], config["num_heads"] * config["d_kv"], config["d_ff"]
    keys = {"shared.weight": (config["vocab_size"], d), "encoder.embed_tokens.weight": (config["vocab_size"], d),
            "encoder.final_layer_norm.weight": (d,)}
    for i in range(config["num_layers"]):
        b = f"encoder.block.{i}.layer."
        keys.update({b + f"0.SelfAttention.{p}.weight": (inner, d) for p in "qkv"})
        keys[b + "0.SelfAttention.o.weight"] = (d, inner)
        if i == 0:  # only the first block has relative_attention_bias
            keys[b + "0.SelfAttention.relative_attention_bias.weight"] = (config["relative_attention_num_buckets"],
                                                                          config["num_heads"])
        keys[b + "0.layer_norm.weight"] = (d,)
        gated = config["feed_forward_proj"].startswith("gated-")
        keys.update({b + f"1.DenseReluDense.{w}.weight": (ff, d) for w in (("wi_0", "wi_1") if gated else ("wi",))})
        keys[b + "1.DenseReluDense.wo.weight"] = (d, ff)
        keys[b + "1.layer_norm.weight"] = (d,)
    return keys


def read_transformers_weights(folder):
    """from_pretrained's safetensors lookup: model.safetensors, else the index and every shard it names."""
    single = os.path.join(folder, "model.safetensors")
    if os.path.exists(single):
        return read_safetensors(single)[0]
    with open(os.path.join(folder, "model.safetensors.index.json")) as f:
        index = json.load(f)
    tensors = {}
    for shard in sorted(set(index["weight_map"].values())):
        part = read_safetensors(os.path.join(folder, shard))[0]
        assert all(index["weight_map"][k] == shard for k in part), f"{shard}: holds names the index puts elsewhere"
        tensors.update(part)
    assert set(tensors) == set(index["weight_map"]), "index and shards disagree"
    assert index["metadata"]["total_size"] == sum(t.numel() * t.element_size() for t in tensors.values())
    return tensors


def same_bytes(a, b):
    with open(a, "rb") as x, open(b, "rb") as y:
        return x.read() == y.read()


def check_text_encoder(out, t5_folder, copied):
    """text_encoder/ loads into T5EncoderModel strictly with the source's encoder bytes; tokenizer/ is the
    source's files, a sentencepiece model with T5's special ids whose vocabulary fits the embedding."""
    folder = os.path.join(out, "text_encoder")
    with open(os.path.join(folder, "config.json")) as f:
        config = json.load(f)
    with open(os.path.join(t5_folder, "config.json")) as f:
        source_config = json.load(f)
    assert config["model_type"] == "t5" and config["architectures"] == ["T5EncoderModel"], config
    assert dict(config, architectures=None) == dict(source_config, architectures=None), "fields changed"
    tensors = read_transformers_weights(folder)
    strict_load("T5EncoderModel", tensors, t5_encoder_model_keys(config), tied=("encoder.embed_tokens.weight",))
    bin_file = os.path.join(t5_folder, "pytorch_model.bin")
    source = torch.load(bin_file) if os.path.exists(bin_file) else read_transformers_weights(t5_folder)
    for k, t in tensors.items():
        assert t.dtype == source[k].dtype and torch.equal(bits(t), bits(source[k])), f"{k}: bytes differ"
    if copied:  # already T5EncoderModel's layout: every file as the source has it
        assert set(os.listdir(folder)) == SHARDED_T5, os.listdir(folder)
        assert all(same_bytes(os.path.join(folder, n), os.path.join(t5_folder, n)) for n in SHARDED_T5)
    else:
        assert sorted(os.listdir(folder)) == ["config.json", "model.safetensors"], os.listdir(folder)
        check_metadata(read_safetensors(os.path.join(folder, "model.safetensors"))[1])
    tokenizer = os.path.join(out, "tokenizer")
    assert set(os.listdir(tokenizer)) == TOKENIZER_FILES, os.listdir(tokenizer)
    assert all(same_bytes(os.path.join(tokenizer, n), os.path.join(t5_folder, n)) for n in TOKENIZER_FILES)
    sp = sentencepiece.SentencePieceProcessor(model_file=os.path.join(tokenizer, "spiece.model"))
    assert (sp.pad_id(), sp.eos_id(), sp.unk_id(), sp.bos_id()) == (0, 1, 2, -1)  # T5Tokenizer's assumptions
    with open(os.path.join(tokenizer, "tokenizer_config.json")) as f:
        tk = json.load(f)
    assert tk["tokenizer_class"] == "T5Tokenizer" and sp.get_piece_size() + tk["extra_ids"] <= config["vocab_size"]
    assert max(sp.encode("a cat playing in the garden")) < sp.get_piece_size()


def run(cli, src, out, *extra):
    return subprocess.run([cli, "convert", src, "-o", out, "-q", *extra], capture_output=True, text=True)


def files_under(folder):
    return {os.path.relpath(os.path.join(d, f), folder) for d, _, fs in os.walk(folder) for f in fs}


def diffusers_json(path):
    with open(path) as f:
        text = f.read()
    value = json.loads(text)
    assert text == json.dumps(value, indent=2, sort_keys=True) + "\n", f"{path}: not laid out as diffusers writes it"
    stamp = value.pop("_ckptconv")  # provenance: diffusers drops underscore keys (target-loaders.md E.3)
    check_metadata(dict(stamp, format="pt"))
    assert "pipeline." not in stamp["ckptconv.options"], stamp
    return value


def same_tensors(got_path, expected):
    got, meta = read_safetensors(got_path)
    check_metadata(meta)
    assert set(got) == set(expected), sorted(set(got) ^ set(expected))[:6]
    for k, v in expected.items():
        assert got[k].dtype == v.dtype and list(got[k].shape) == list(v.shape), k
        assert torch.equal(bits(got[k]), bits(v)), f"{k}: bytes differ"


def check_pipeline(out, transformer_src, vae_src, pipeline_class, vae_variant, shift, t5_folder=None, copied=False):
    t5_files = set()
    if t5_folder:
        t5_files = {f"tokenizer/{n}" for n in TOKENIZER_FILES} | (
            {f"text_encoder/{n}" for n in SHARDED_T5} if copied else
            {"text_encoder/config.json", "text_encoder/model.safetensors"})
        check_text_encoder(out, t5_folder, copied)
    assert files_under(out) == PIPELINE_FILES | t5_files, sorted(files_under(out) ^ (PIPELINE_FILES | t5_files))
    sd = torch.load(transformer_src)["module"]
    same_tensors(os.path.join(out, "transformer", "diffusion_pytorch_model.safetensors"),
                 cogvideox_oracle.reference(sd, False, cogvideox_oracle.PREFIX))
    cogvideox_vae_oracle.check_against_reference(out, torch.load(vae_src)["state_dict"])
    index = diffusers_json(os.path.join(out, "model_index.json"))
    assert index == {"_class_name": pipeline_class, "_diffusers_version": "0.32.0",
                     "scheduler": ["diffusers", "CogVideoXDDIMScheduler"],
                     "text_encoder": ["transformers", "T5EncoderModel"] if t5_folder else [None, None],
                     "tokenizer": ["transformers", "T5Tokenizer"] if t5_folder else [None, None],
                     "transformer": ["diffusers", "CogVideoXTransformer3DModel"],
                     "vae": ["diffusers", "AutoencoderKLCogVideoX"]}, index
    scheduler = diffusers_json(os.path.join(out, "scheduler", "scheduler_config.json"))
    assert scheduler == dict(SCHEDULER, snr_shift_scale=shift), scheduler
    vae = diffusers_json(os.path.join(out, "vae", "config.json"))
    scaling, invert = cogvideox_vae_oracle.VARIANTS[vae_variant]
    assert vae["scaling_factor"] == scaling and vae["invert_scale_latents"] is invert, vae
    # AutoencoderKLCogVideoX normalises in norm_num_groups (32) groups: every width must divide by it.
    assert all(c % vae["norm_num_groups"] == 0 for c in vae["block_out_channels"]), vae["block_out_channels"]
    transformer = diffusers_json(os.path.join(out, "transformer", "config.json"))
    assert transformer["in_channels"] == (32 if "ImageToVideo" in pipeline_class else 16), transformer
    assert transformer["use_rotary_positional_embeddings"] is (vae_variant != "2b"), transformer  # release table


def check_sat_folder_2b(cli, corpus):
    folder = os.path.join(corpus, "cogvideox_vae", "sat_folder_2b")
    with tempfile.TemporaryDirectory() as tmp:
        out, report = os.path.join(tmp, "pipe"), os.path.join(tmp, "report.json")
        r = run(cli, folder, out, "--option", "variant=2b", "--report", report)
        assert r.returncode == 0, r.stderr
        check_pipeline(out, os.path.join(folder, "transformer", "1000", "mp_rank_00_model_states.pt"),
                       os.path.join(folder, "vae", "3d-vae.pt"), "CogVideoXPipeline", "2b", 3.0,
                       os.path.join(folder, "t5-v1_1-xxl"), copied=True)
        with open(report) as f:
            j = json.load(f)
        assert set(j["components"]) == {"transformer", "vae"} and not j["not_converted"], j
        t = j["components"]["transformer"]
        assert t["plugin"] == "cogvideox_sat" and t["output"] == os.path.join(out, "transformer"), t
        assert not any("T5" in n for n in t["notes"]), t["notes"]
        assert j["components"]["vae"]["plugin"] == "cogvideox_vae"
        assert not any("norm_num_groups" in n for n in j["components"]["vae"].get("notes", [])), j["components"]["vae"]
        te = j["text_encoder"]
        assert te["plugin"] == "t5_text_encoder" and any("copied unchanged" in n for n in te["notes"]), te
        check_verify(cli, folder, out, "--option", "variant=2b")


def verify(cli, folder, out, *extra):
    r = subprocess.run([cli, "verify", folder, out, "--json", *extra], capture_output=True, text=True)
    return r.returncode, json.loads(r.stdout) if r.stdout else r.stderr


def check_verify(cli, folder, out, *extra):
    """verify on the SAT folder re-derives every tensor and file; one changed byte or file is named."""
    tensors = sum(len(read_safetensors(os.path.join(out, c, "diffusion_pytorch_model.safetensors"))[0])
                  for c in ("transformer", "vae"))
    t5_tensors = len(read_transformers_weights(os.path.join(out, "text_encoder")))
    code, j = verify(cli, folder, out, *extra)
    # + the four JSON files, the T5 tensors and the eight T5 files copied unchanged
    assert code == 0 and j["ok"] and j["checked"] == tensors + 4 + t5_tensors + 8, (code, j)
    made = j["produced_by"]  # what each component's file records about its making
    assert sorted(made) == ["transformer/", "vae/"], made
    assert made["transformer/"]["ckptconv.plugin"].startswith("cogvideox_sat@"), made
    assert made["vae/"]["ckptconv.plugin"].startswith("cogvideox_vae@"), made
    weights = os.path.join(out, "vae", "diffusion_pytorch_model.safetensors")
    with open(weights, "r+b") as f:
        f.seek(-1, os.SEEK_END)
        last = f.read(1)
        f.seek(-1, os.SEEK_END)
        f.write(bytes([last[0] ^ 1]))
    with open(os.path.join(out, "model_index.json"), "a") as f:
        f.write(" ")
    with open(os.path.join(out, "tokenizer", "added_tokens.json"), "a") as f:
        f.write(" ")
    code, j = verify(cli, folder, out, *extra)
    assert code == 7 and not j["missing"] and not j["unexpected"], (code, j)
    assert len(j["different"]) == 3 and "model_index.json" in j["different"], j["different"]
    assert "tokenizer/added_tokens.json" in j["different"], j["different"]
    assert [d for d in j["different"] if d.startswith("vae/")], j["different"]


def check_variant_needed(cli, corpus):
    """A custom-size transformer does not tell the VAE scaling or the scheduler shift: exit 5, nothing written."""
    folder = os.path.join(corpus, "cogvideox_vae", "sat_folder_2b")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "pipe")
        r = run(cli, folder, out)
        assert r.returncode == 5, (r.returncode, r.stderr)
        assert "variant=2b" in r.stderr and "sat_folder_2b/transformer" in r.stderr, r.stderr
        assert not os.path.exists(out) and os.listdir(tmp) == [], os.listdir(tmp)


def check_sat_folder_15_i2v(cli, corpus):
    folder = os.path.join(corpus, "cogvideox_vae", "sat_folder_1.5")
    with tempfile.TemporaryDirectory() as tmp:
        out, report = os.path.join(tmp, "pipe"), os.path.join(tmp, "report.json")
        r = run(cli, folder, out, "--component", "transformer_i2v", "--component", "vae",
                "--component", "t5-v1_1-xxl", "--option", "variant=1.5", "--report", report)
        assert r.returncode == 0, r.stderr
        check_pipeline(out, os.path.join(folder, "transformer_i2v", "1000", "mp_rank_00_model_states.pt"),
                       os.path.join(folder, "vae", "3d-vae.pt"), "CogVideoXImageToVideoPipeline", "1.5", 1.0,
                       os.path.join(folder, "t5-v1_1-xxl"))
        with open(report) as f:
            j = json.load(f)
        assert not j["not_converted"], j["not_converted"]
        notes = j["text_encoder"]["notes"]
        assert any("architectures set to T5EncoderModel" in n for n in notes), notes
        dropped = [d[0] for r in j["text_encoder"]["roots"] for d in r["dropped_samples"]]
        assert dropped and all(d.startswith(("decoder.", "encoder.embed_tokens")) for d in dropped), dropped
        code, j = verify(cli, folder, out, "--component", "transformer_i2v", "--component", "vae",
                         "--component", "t5-v1_1-xxl", "--option", "variant=1.5")
        assert code == 0 and j["ok"], (code, j)
        assert j["produced_by"]["text_encoder/"]["ckptconv.plugin"].startswith("t5_text_encoder@"), j


def check_text_encoder_flag(cli, corpus):
    """--text-encoder DIR carries another T5 folder in; the folder's own is then left out, with the reason."""
    folder = os.path.join(corpus, "cogvideox_vae", "sat_folder_2b")
    other = os.path.join(corpus, "cogvideox_vae", "sat_folder_1.5", "t5-v1_1-xxl")
    with tempfile.TemporaryDirectory() as tmp:
        out, report = os.path.join(tmp, "pipe"), os.path.join(tmp, "report.json")
        r = run(cli, folder, out, "--option", "variant=2b", "--text-encoder", other, "--report", report)
        assert r.returncode == 0, r.stderr
        check_text_encoder(out, other, copied=False)
        with open(report) as f:
            skipped = json.load(f)["not_converted"]
        assert skipped == [f"t5-v1_1-xxl: not converted (--text-encoder {other} is the text encoder)"], skipped
        code, j = verify(cli, folder, out, "--option", "variant=2b", "--text-encoder", other)
        assert code == 0 and j["ok"], (code, j)


def check_broken_t5_refused(cli, corpus):
    """A T5 folder whose config disagrees with its weights is refused (exit 3) naming file, tensor and shape;
    one without a vocabulary gives a pipeline whose model_index says so."""
    source = os.path.join(corpus, "cogvideox_vae", "sat_folder_2b")
    with tempfile.TemporaryDirectory() as tmp:
        folder = os.path.join(tmp, "sat")
        shutil.copytree(source, folder)
        config_file = os.path.join(folder, "t5-v1_1-xxl", "config.json")
        with open(config_file) as f:
            config = json.load(f)
        with open(config_file, "w") as f:
            json.dump(dict(config, d_ff=config["d_ff"] * 2), f)
        out = os.path.join(tmp, "pipe")
        r = run(cli, folder, out, "--option", "variant=2b")
        assert r.returncode == 3, (r.returncode, r.stderr)
        assert "DenseReluDense.wi_0.weight has shape" in r.stderr and "config.json" in r.stderr, r.stderr
        assert not os.path.exists(out)
        # Hostile configs: 150,000 levels of nesting (parsed without recursion), 16M promised layers.
        for text, message in (('{"model_type": "t5", "x": ' + '{"a":' * 150000 + '1' + '}' * 150000 + '}',
                               "d_model: expected a positive integer"),
                              (json.dumps(dict(config, num_layers=16_000_000)), "num_layers 16000000")):
            with open(config_file, "w") as f:
                f.write(text)
            r = run(cli, folder, out, "--option", "variant=2b")
            assert r.returncode == 3 and message in r.stderr, (r.returncode, r.stderr)
            assert not os.path.exists(out)
        with open(config_file, "w") as f:
            json.dump(config, f)
        os.remove(os.path.join(folder, "t5-v1_1-xxl", "spiece.model"))
        report = os.path.join(tmp, "report.json")
        r = run(cli, folder, out, "--option", "variant=2b", "--report", report)
        assert r.returncode == 0, r.stderr
        assert not os.path.exists(os.path.join(out, "tokenizer")), os.listdir(out)
        with open(os.path.join(out, "model_index.json")) as f:
            index = json.load(f)
        assert index["text_encoder"] == ["transformers", "T5EncoderModel"] and index["tokenizer"] == [None, None]
        with open(report) as f:
            notes = json.load(f)["text_encoder"]["notes"]
        assert any("holds no spiece.model" in n for n in notes), notes


def check_two_transformers_refused(cli, corpus):
    folder = os.path.join(corpus, "cogvideox_vae", "sat_folder_1.5")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "pipe")
        r = run(cli, folder, out, "--option", "variant=1.5")
        assert r.returncode == 2, (r.returncode, r.stderr)
        assert "transformer_i2v and transformer_t2v" in r.stderr and "--component" in r.stderr, r.stderr
        assert os.listdir(tmp) == []


if __name__ == "__main__":
    cli, corpus = sys.argv[1:3]
    sys.exit(run_cases([
        ("sat_folder_2b --option variant=2b: transformer, vae, T5 copied, tokenizer, scheduler, model_index; verify catches a byte and two files", lambda: check_sat_folder_2b(cli, corpus)),
        ("sat_folder_2b without a variant: exit 5 naming the choices, nothing written", lambda: check_variant_needed(cli, corpus)),
        ("sat_folder_1.5 --component transformer_i2v: I2V pipeline, whole T5 rewritten as its encoder", lambda: check_sat_folder_15_i2v(cli, corpus)),
        ("--text-encoder DIR replaces the folder's T5; verify re-derives it", lambda: check_text_encoder_flag(cli, corpus)),
        ("a T5 config that disagrees with the weights, nests 150k deep or promises 16M layers: exit 3; no spiece.model: tokenizer [null, null]", lambda: check_broken_t5_refused(cli, corpus)),
        ("sat_folder_1.5 with both transformers: refused, exit 2", lambda: check_two_transformers_refused(cli, corpus)),
    ]))
