#!/usr/bin/python3
"""The installed SDK, checked the way a third party uses it: `cmake --install` into a temporary
prefix, the example plugin (sdk/examples/acme_lm, as installed under share/) built out of tree with
its own CMake project against find_package(ckptconv_sdk), then the installed CLI loading it with
--plugin-path, detecting and converting the Acme fixtures, checked bit for bit with torch.load and
by loading the result strictly into a torch module of the target layout. Also: the installed CLI
finds its built-in plugins with no flag, and two builds of the example with different versions sit
side by side under config pins and --plugin id@version.

    /usr/bin/python3 sdk_install_oracle.py BUILD_DIR CORPUS_DIR
"""
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import torch
from torch import nn

from oracle_cases import read_safetensors, run_cases, run_cli, same_tensors

BUILTINS = {"clip_vision", "cogvideox_sat", "cogvideox_vae", "deltalm_fairseq", "t2m_cut", "xlmr_hf"}
EXAMPLE = "share/ckptconv/examples/acme_lm"


def clean_env():
    """The environment without CKPTCONV_PLUGIN_PATH: only flags and the install layout find plugins."""
    return {k: v for k, v in os.environ.items() if k != "CKPTCONV_PLUGIN_PATH"}


def run(*cmd, cwd=None):
    r = subprocess.run(list(cmd), capture_output=True, text=True, cwd=cwd, env=clean_env())
    assert r.returncode == 0, f"{' '.join(cmd)} exited {r.returncode}:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r


def build_example(source, build, prefix, *defines):
    """Configures and builds an Acme plugin project the way its README says, with warnings as errors."""
    generator = ["-G", "Ninja"] if shutil.which("ninja") else []
    run("cmake", "-S", source, "-B", build, *generator, f"-DCMAKE_PREFIX_PATH={prefix}",
        "-DCMAKE_BUILD_TYPE=Release", "-DCMAKE_CXX_FLAGS=-Wall -Wextra -Wpedantic -Werror", *defines)
    run("cmake", "--build", build)
    return os.path.join(build, "ckptconv_plugins")


class AcmeHfLayer(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.input_layernorm = nn.LayerNorm(d)
        self.self_attn = nn.Module()
        for p in ("q", "k", "v", "o"):
            setattr(self.self_attn, f"{p}_proj", nn.Linear(d, d))
        self.post_attention_layernorm = nn.LayerNorm(d)
        self.mlp = nn.Module()
        self.mlp.fc1 = nn.Linear(d, 4 * d)
        self.mlp.fc2 = nn.Linear(4 * d, d)


class AcmeHf(nn.Module):
    """The target layout: what Acme's inference code loads with load_state_dict(strict=True)."""

    def __init__(self, vocab, positions, d, layers):
        super().__init__()
        self.model = nn.Module()
        self.model.embed_tokens = nn.Embedding(vocab, d)
        self.model.embed_positions = nn.Embedding(positions, d)
        self.model.layers = nn.ModuleList(AcmeHfLayer(d) for _ in range(layers))
        self.model.norm = nn.LayerNorm(d)
        self.lm_head = nn.Linear(d, vocab, bias=False)


def reference_conversion(sd):
    """The Acme -> target mapping written independently of the plugin, in the target's state_dict() order."""
    layers = 1 + max(int(k.split(".")[1]) for k in sd if k.startswith("blocks."))
    out = collections.OrderedDict()
    out["model.embed_tokens.weight"] = sd["tok_emb.weight"]
    out["model.embed_positions.weight"] = sd["pos_emb"]
    for i in range(layers):
        a, b = f"blocks.{i}.", f"model.layers.{i}."
        for wb in ("weight", "bias"):
            out[f"{b}input_layernorm.{wb}"] = sd[f"{a}ln1.{wb}"]
        qkv = {}
        for wb in ("weight", "bias"):
            if f"{a}attn.qkv.{wb}" in sd:
                for p, part in zip("qkv", sd[f"{a}attn.qkv.{wb}"].chunk(3, 0)):
                    qkv[p, wb] = part
            else:
                for p in "qkv":
                    qkv[p, wb] = sd[f"{a}attn.{p}.{wb}"]
        for p in "qkv":
            for wb in ("weight", "bias"):
                out[f"{b}self_attn.{p}_proj.{wb}"] = qkv[p, wb]
        for wb in ("weight", "bias"):
            out[f"{b}self_attn.o_proj.{wb}"] = sd[f"{a}attn.proj.{wb}"]
        for wb in ("weight", "bias"):
            out[f"{b}post_attention_layernorm.{wb}"] = sd[f"{a}ln2.{wb}"]
        for fc in ("fc1", "fc2"):
            for wb in ("weight", "bias"):
                out[f"{b}mlp.{fc}.{wb}"] = sd[f"{a}mlp.{fc}.{wb}"]
    for wb in ("weight", "bias"):
        out[f"model.norm.{wb}"] = sd[f"ln_f.{wb}"]
    out["lm_head.weight"] = sd["head.weight"]
    return out, layers


class Install:
    def __init__(self, build_dir, corpus):
        self.corpus = corpus
        self.build_dir = build_dir
        self.tmp = tempfile.mkdtemp(prefix="ckptconv-sdk-")
        self.prefix = os.path.join(self.tmp, "prefix")
        self.cli = os.path.join(self.prefix, "bin", "ckptconv")
        run("cmake", "--install", build_dir, "--prefix", self.prefix)
        self.fixture = os.path.join(corpus, "acme_lm", "trainer1_fused.pt")
        self.example_build = os.path.join(self.tmp, "acme_build")
        self.plugins = build_example(os.path.join(self.prefix, EXAMPLE), self.example_build, self.prefix,
                                     f"-DACME_LM_FIXTURE={self.fixture}")

    def out(self, name):
        return os.path.join(self.tmp, name)

    # ---- the install itself

    def check_layout(self):
        for rel in ("bin/ckptconv", "lib/ckptconv/libckptconv_engine.so", "lib/ckptconv/plugins/t2m_cut.yaml",
                    "include/ckptconv/ckptconv_plugin.h", "include/ckptconv/sdk.hpp",
                    "lib/cmake/ckptconv_sdk/ckptconv_sdkConfig.cmake",
                    "lib/cmake/ckptconv_sdk/ckptconv_sdkConfigVersion.cmake", f"{EXAMPLE}/CMakeLists.txt"):
            assert os.path.isfile(os.path.join(self.prefix, rel)), f"not installed: {rel}"
        for p in BUILTINS:
            assert os.path.isfile(os.path.join(self.prefix, "lib/ckptconv/plugins", f"ckptconv_{p}.so")), p
        # The SDK is the two headers and nothing they include beyond the standard library.
        include = os.path.join(self.prefix, "include")
        assert sorted(os.listdir(include)) == ["ckptconv"], os.listdir(include)
        assert sorted(os.listdir(os.path.join(include, "ckptconv"))) == ["ckptconv_plugin.h", "sdk.hpp"]
        for header in ("ckptconv_plugin.h", "sdk.hpp"):
            with open(os.path.join(include, "ckptconv", header)) as f:
                for inc in re.findall(r'#include\s*[<"]([^>"]+)[>"]', f.read()):
                    assert inc == "ckptconv/ckptconv_plugin.h" or "/" not in inc, f"{header} includes {inc}"

    def check_builtins_without_flags(self):
        r = run_cli(self.cli, "plugins", "--json", env=clean_env(), cwd=self.tmp)
        assert r.returncode == 0, r.stderr
        listing = json.loads(r.stdout)["plugins"]
        plugin_dir = os.path.join(self.prefix, "lib", "ckptconv", "plugins")
        got = {p["id"]: p for p in listing}
        assert set(got) == BUILTINS, sorted(got)
        for p in listing:
            assert p["status"] == "loaded" and p["selected"], p
            assert os.path.dirname(p["origin"]) == plugin_dir, p["origin"]

    def check_same_output_as_build_tree(self):
        """The installed CLI, its engine and a plugin's shipped rule file give what the build tree gives."""
        build_cli = os.path.join(self.build_dir, "bin", "ckptconv")
        cases = [(os.path.join(self.corpus, "..", "..", "samples", "cogvideox_sat_t2v_tiny.pt"), "sample"),
                 (os.path.join(self.corpus, "t2m_cut", "t2m_two_roots.pt"), "t2m.pt")]
        for src, name in cases:
            outs = []
            for tag, cli in (("installed", self.cli), ("build", build_cli)):
                os.makedirs(self.out(tag), exist_ok=True)
                out = os.path.join(self.out(tag), name)  # one name: a torch zip records it inside
                r = run_cli(cli, "convert", src, "-o", out, "-q", env=clean_env(), cwd=self.tmp)
                assert r.returncode == 0, f"{tag}: {r.stderr}"
                outs.append(out)
            assert files_of(outs[0]) == files_of(outs[1]), f"{name}: installed and build-tree outputs differ"

    # ---- the example plugin, out of tree

    def check_exports_only_the_entry(self):
        installed = os.path.join(self.prefix, "lib", "ckptconv", "plugins")
        modules = [os.path.join(self.plugins, "ckptconv_acme_lm.so")]
        modules += [os.path.join(installed, f"ckptconv_{p}.so") for p in sorted(BUILTINS)]
        for so in modules:
            r = run("nm", "-D", "--defined-only", so)
            symbols = {line.split()[-1] for line in r.stdout.splitlines() if line.strip()}
            assert symbols == {"ckptconv_plugin_entry_v1"}, (os.path.basename(so), sorted(symbols)[:3])

    def detect(self, path, *extra):
        r = run_cli(self.cli, "detect", path, "--json", "--plugin-path", self.plugins, *extra, env=clean_env())
        return r, json.loads(r.stdout) if r.stdout else None

    def check_conversion(self, fixture, format_version):
        src = os.path.join(self.corpus, "acme_lm", fixture)
        r, found = self.detect(src)
        assert r.returncode == 0, r.stderr
        sel = found["selected"]
        assert (sel["plugin"], sel["score"], sel["format_version"], sel["variant"]) == \
            ("acme_lm", 100, format_version, "L4-D16"), sel
        others = {c["plugin"]: c["score"] for c in found["candidates"] if c["plugin"] != "acme_lm"}
        assert all(s <= 25 for s in others.values()), others
        out = self.out(fixture + ".safetensors")
        report = self.out(fixture + ".json")
        r = run_cli(self.cli, "convert", src, "-o", out, "--report", report, "-q", "--plugin-path", self.plugins,
                    env=clean_env())
        assert r.returncode == 0, r.stderr
        got, _ = read_safetensors(out)
        expected, layers = reference_conversion(torch.load(src)["model"])
        same_tensors(got, expected, ordered=False)
        sd = expected["model.embed_tokens.weight"]
        model = AcmeHf(sd.shape[0], expected["model.embed_positions.weight"].shape[0], sd.shape[1], layers)
        model.load_state_dict(got, strict=True)  # the target code's own check: names and shapes
        with open(report) as f:
            rep = json.load(f)
        assert (rep["plugin"], rep["plugin_version"], rep["target"]) == ("acme_lm", "1.0.0", "acme_hf"), rep
        [root] = rep["roots"]
        assert (root["name"], root["total_in"], root["total_out"], root["dropped"]) == ("model", 57 + 16 * (
            format_version == "2"), 69, 4), root  # format 1 splits 8 qkv tensors into 24; the 4 masks dropped
        assert all(reason.startswith("causal mask buffer") for _, reason in root["dropped_samples"]), root

    def check_unknown_attention_refused(self):
        src = os.path.join(self.corpus, "acme_lm", "unknown_attention.pt")
        out = self.out("unknown.safetensors")
        r = run_cli(self.cli, "convert", src, "-o", out, "--plugin-path", self.plugins, env=clean_env())
        assert r.returncode == 5, (r.returncode, r.stderr)
        for text in (src, "acme_lm@1.0.0", "format unknown", "blocks.0.attn in 'model'", "attn.qkv.weight [48, 16]"):
            assert text in r.stderr, f"{text!r} not in {r.stderr!r}"
        assert not os.path.exists(out), "partial output left behind"
        # Forcing a version the plugin has rules for: the host names the tensor those rules leave unmapped.
        r = run_cli(self.cli, "convert", src, "-o", out, "--format-version", "1", "--plugin-path", self.plugins,
                    env=clean_env())
        assert r.returncode == 5 and "blocks.0.attn.kv.weight" in r.stderr, (r.returncode, r.stderr)
        r = run_cli(self.cli, "convert", src, "-o", out, "--format-version", "3", "--plugin-path", self.plugins,
                    env=clean_env())
        assert r.returncode == 2 and "has rules for 1, 2" in r.stderr, (r.returncode, r.stderr)
        assert not os.path.exists(out), "partial output left behind"

    def check_claims_nothing_else(self):
        """The example plugin stays out of every other corpus file (the cross-detection check a plugin needs)."""
        checked = 0
        for folder, dirs, files in os.walk(self.corpus):
            dirs[:] = [d for d in dirs if d not in ("acme_lm", "_negative", "_fuzz", "_hostile")]
            for name in files:
                if name.endswith((".pt", ".bin", ".safetensors")):
                    r, found = self.detect(os.path.join(folder, name), "--plugin", "acme_lm")
                    assert r.returncode == 4, f"acme_lm claims {name}: {r.stdout}"
                    checked += 1
        assert checked >= 20, checked

    def check_example_ctest(self):
        """The example's own optional tests run the installed CLI through CKPTCONV_EXECUTABLE."""
        r = run("ctest", "--test-dir", self.example_build, "--output-on-failure")
        assert "2 tests passed" in r.stdout or "100% tests passed" in r.stdout, r.stdout

    # ---- two builds of one plugin id

    def check_side_by_side_versions(self):
        newer_src = os.path.join(self.tmp, "acme_lm_1_1")
        shutil.copytree(os.path.join(self.prefix, EXAMPLE), newer_src)
        main = os.path.join(newer_src, "acme_lm.cpp")
        with open(main) as f:
            text = f.read()
        assert 'kVersion = "1.0.0"' in text
        with open(main, "w") as f:
            f.write(text.replace('kVersion = "1.0.0"', 'kVersion = "1.1.0"'))
        newer = build_example(newer_src, os.path.join(self.tmp, "acme_1_1_build"), self.prefix)
        paths = ["--plugin-path", self.plugins, "--plugin-path", newer]
        cfg_dir = self.out("configs")
        os.makedirs(cfg_dir, exist_ok=True)

        def config(name, pin):
            path = os.path.join(cfg_dir, name)
            with open(path, "w") as f:
                f.write(f'plugins: {{acme_lm: "{pin}"}}\n' if pin else "{}\n")
            return path

        def selected(*extra):
            r = run_cli(self.cli, "detect", self.fixture, "--json", *paths, *extra, env=clean_env())
            assert r.returncode == 0, r.stderr
            return json.loads(r.stdout)["selected"]["plugin_version"]

        listing = json.loads(run_cli(self.cli, "plugins", "--json", *paths, env=clean_env()).stdout)["plugins"]
        builds = {p["version"]: p["selected"] for p in listing if p["id"] == "acme_lm"}
        assert builds == {"1.0.0": False, "1.1.0": True}, builds
        assert selected() == "1.1.0"
        assert selected("--config", config("exact.yaml", "1.0.0")) == "1.0.0"
        assert selected("--config", config("range.yaml", ">=1.0, <1.1")) == "1.0.0"
        assert selected("--plugin", "acme_lm@1.0.0") == "1.0.0"
        assert selected("--plugin", "acme_lm@~1.1") == "1.1.0"
        # The pinned build is the one that converts: the report names it.
        report = self.out("pinned.json")
        r = run_cli(self.cli, "convert", self.fixture, "-o", self.out("pinned.safetensors"), "-q", "--report", report,
                    "--config", config("exact2.yaml", "1.0.0"), *paths, env=clean_env())
        assert r.returncode == 0, r.stderr
        with open(report) as f:
            assert json.load(f)["plugin_version"] == "1.0.0"
        r = run_cli(self.cli, "detect", self.fixture, *paths, "--config", config("none.yaml", ">=2"), env=clean_env())
        assert r.returncode == 2 and "1.0.0" in r.stderr and "1.1.0" in r.stderr, (r.returncode, r.stderr)
        r = run_cli(self.cli, "detect", self.fixture, *paths, "--plugin", "acme_lm@2", env=clean_env())
        assert r.returncode == 4 and "found 1.0.0, 1.1.0" in r.stderr, (r.returncode, r.stderr)

    def check_installed_plugin_found_without_flags(self):
        """`cmake --install` of the plugin project into ckptconv's prefix: the CLI then needs no flag."""
        run("cmake", "--install", self.example_build, "--prefix", self.prefix)
        r = run_cli(self.cli, "detect", self.fixture, "--json", env=clean_env(), cwd=self.tmp)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["selected"]["plugin"] == "acme_lm"


def files_of(folder_or_file):
    """{relative path: bytes} of an output (a file or a folder)."""
    if os.path.isfile(folder_or_file):
        with open(folder_or_file, "rb") as f:
            return {"": f.read()}
    out = {}
    for folder, _, files in os.walk(folder_or_file):
        for name in files:
            path = os.path.join(folder, name)
            with open(path, "rb") as f:
                out[os.path.relpath(path, folder_or_file)] = f.read()
    return out


def main():
    build_dir, corpus = (os.path.abspath(p) for p in sys.argv[1:3])
    try:
        install = Install(build_dir, corpus)
    except AssertionError as e:
        print(f"FAIL  install and out-of-tree build: {e}")
        return 1
    try:
        return run_cases([
            ("install layout: CLI, engine, plugins and rules, SDK headers only, CMake package, example",
             install.check_layout),
            ("installed CLI finds the six built-in plugins with no flag", install.check_builtins_without_flags),
            ("installed CLI converts the sample and t2m_cut (shipped rules) byte-identically to the build tree",
             install.check_same_output_as_build_tree),
            ("the example and the built-in plugins export only ckptconv_plugin_entry_v1",
             install.check_exports_only_the_entry),
            ("trainer1_fused.pt (format 1): detected alone, split qkv bit-exact, loads strictly",
             lambda: install.check_conversion("trainer1_fused.pt", "1")),
            ("trainer2_bf16.pt (format 2, legacy, bf16): bit-exact, loads strictly",
             lambda: install.check_conversion("trainer2_bf16.pt", "2")),
            ("unknown attention layout: exit 5 naming file, plugin and keys (forced: the unmapped key); nothing written",
             install.check_unknown_attention_refused),
            ("example plugin claims no other corpus file", install.check_claims_nothing_else),
            ("example's own ctest runs the installed CLI", install.check_example_ctest),
            ("two builds side by side: highest by default, pins, ranges, --plugin id@ver, impossible pins",
             install.check_side_by_side_versions),
            ("plugin installed into the prefix is found with no flag", install.check_installed_plugin_found_without_flags),
        ])
    finally:
        shutil.rmtree(install.tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
