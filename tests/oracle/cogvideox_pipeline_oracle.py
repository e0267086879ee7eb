#!/usr/bin/python3
"""Oracle for whole SAT folders -> one diffusers pipeline folder (cogvideox_sat + cogvideox_vae).

    /usr/bin/python3 tests/oracle/cogvideox_pipeline_oracle.py build/bin/ckptconv tests/corpus

Each component must equal the per-plugin Python references bit for bit; model_index.json and
scheduler/scheduler_config.json must hold what diffusers' save_pretrained writes for the pipeline
(cogvideox.md 7), text encoder and tokenizer as [null, null]; failures leave nothing behind.
"""
import json
import os
import subprocess
import sys
import tempfile

import torch

sys.path.insert(0, os.path.dirname(__file__))
import cogvideox_oracle  # noqa: E402
import cogvideox_vae_oracle  # noqa: E402
from oracle_cases import bits, check_metadata, read_safetensors, run_cases  # noqa: E402

SCHEDULER = {"_class_name": "CogVideoXDDIMScheduler", "_diffusers_version": "0.32.0", "beta_end": 0.012,
             "beta_schedule": "scaled_linear", "beta_start": 0.00085, "clip_sample": False, "clip_sample_range": 1.0,
             "num_train_timesteps": 1000, "prediction_type": "v_prediction", "rescale_betas_zero_snr": True,
             "sample_max_value": 1.0, "set_alpha_to_one": True, "steps_offset": 0, "timestep_spacing": "trailing",
             "trained_betas": None}
PIPELINE_FILES = {"model_index.json", "scheduler/scheduler_config.json", "transformer/config.json",
                  "transformer/diffusion_pytorch_model.safetensors", "vae/config.json",
                  "vae/diffusion_pytorch_model.safetensors"}


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


def check_pipeline(out, transformer_src, vae_src, pipeline_class, vae_variant, shift):
    assert files_under(out) == PIPELINE_FILES, sorted(files_under(out))
    sd = torch.load(transformer_src)["module"]
    same_tensors(os.path.join(out, "transformer", "diffusion_pytorch_model.safetensors"),
                 cogvideox_oracle.reference(sd, False, cogvideox_oracle.PREFIX))
    cogvideox_vae_oracle.check_against_reference(out, torch.load(vae_src)["state_dict"])
    index = diffusers_json(os.path.join(out, "model_index.json"))
    assert index == {"_class_name": pipeline_class, "_diffusers_version": "0.32.0",
                     "scheduler": ["diffusers", "CogVideoXDDIMScheduler"], "text_encoder": [None, None],
                     "tokenizer": [None, None], "transformer": ["diffusers", "CogVideoXTransformer3DModel"],
                     "vae": ["diffusers", "AutoencoderKLCogVideoX"]}, index
    scheduler = diffusers_json(os.path.join(out, "scheduler", "scheduler_config.json"))
    assert scheduler == dict(SCHEDULER, snr_shift_scale=shift), scheduler
    vae = diffusers_json(os.path.join(out, "vae", "config.json"))
    scaling, invert = cogvideox_vae_oracle.VARIANTS[vae_variant]
    assert vae["scaling_factor"] == scaling and vae["invert_scale_latents"] is invert, vae
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
                       os.path.join(folder, "vae", "3d-vae.pt"), "CogVideoXPipeline", "2b", 3.0)
        with open(report) as f:
            j = json.load(f)
        assert set(j["components"]) == {"transformer", "vae"}, j["components"].keys()
        t = j["components"]["transformer"]
        assert t["plugin"] == "cogvideox_sat" and t["output"] == os.path.join(out, "transformer"), t
        assert any("T5 text encoder" in n for n in t["notes"]), t["notes"]
        assert j["components"]["vae"]["plugin"] == "cogvideox_vae"
        check_verify(cli, folder, out, "--option", "variant=2b")


def verify(cli, folder, out, *extra):
    r = subprocess.run([cli, "verify", folder, out, "--json", *extra], capture_output=True, text=True)
    return r.returncode, json.loads(r.stdout) if r.stdout else r.stderr


def check_verify(cli, folder, out, *extra):
    """verify on the SAT folder re-derives every tensor and file; one changed byte or file is named."""
    tensors = sum(len(read_safetensors(os.path.join(out, c, "diffusion_pytorch_model.safetensors"))[0])
                  for c in ("transformer", "vae"))
    code, j = verify(cli, folder, out, *extra)
    assert code == 0 and j["ok"] and j["checked"] == tensors + 4, (code, j)  # + the four JSON files
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
    code, j = verify(cli, folder, out, *extra)
    assert code == 7 and not j["missing"] and not j["unexpected"], (code, j)
    assert len(j["different"]) == 2 and "model_index.json" in j["different"], j["different"]
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
                       os.path.join(folder, "vae", "3d-vae.pt"), "CogVideoXImageToVideoPipeline", "1.5", 1.0)
        with open(report) as f:
            skipped = json.load(f)["not_converted"]
        assert len(skipped) == 1 and skipped[0].startswith("t5-v1_1-xxl: not converted"), skipped
        code, j = verify(cli, folder, out, "--component", "transformer_i2v", "--component", "vae", "--option",
                         "variant=1.5")
        assert code == 0 and j["ok"], (code, j)


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
        ("sat_folder_2b --option variant=2b: transformer, vae, scheduler, model_index; verify catches a byte and a file", lambda: check_sat_folder_2b(cli, corpus)),
        ("sat_folder_2b without a variant: exit 5 naming the choices, nothing written", lambda: check_variant_needed(cli, corpus)),
        ("sat_folder_1.5 --component transformer_i2v: I2V pipeline, T5 folder reported", lambda: check_sat_folder_15_i2v(cli, corpus)),
        ("sat_folder_1.5 with both transformers: refused, exit 2", lambda: check_two_transformers_refused(cli, corpus)),
    ]))
