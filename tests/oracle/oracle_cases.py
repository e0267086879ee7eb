"""What every oracle script shares: a raw safetensors reader, bit-exact tensor bytes, running the CLI,
comparing state dicts, and the case runner."""
import collections
import json
import os
import struct
import subprocess
import zipfile

import torch

ST_DTYPES = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
             "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
             "BOOL": torch.bool}


def read_safetensors(path):
    """(name -> tensor, __metadata__), checking the layout rules the format sets."""
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n], object_pairs_hook=collections.OrderedDict)
    base = 8 + n
    out = collections.OrderedDict()
    spans = []
    for name, h in header.items():
        if name == "__metadata__":
            continue
        b, e = h["data_offsets"]
        spans.append((b, e))
        raw = bytearray(data[base + b:base + e])
        t = torch.frombuffer(raw, dtype=torch.uint8) if raw else torch.zeros(0, dtype=torch.uint8)
        out[name] = t.view(ST_DTYPES[h["dtype"]]).reshape(h["shape"])
    spans.sort()
    pos = 0
    for b, e in spans:
        assert b == pos, f"{path}: hole or overlap at {b}"
        pos = e
    assert base + pos == len(data), f"{path}: buffer not covered exactly"
    assert n % 8 == 0, f"{path}: header not padded to 8"
    return out, header.get("__metadata__", {})


def bits(t):
    """The tensor's raw bytes in row-major order: equality here is bit for bit (NaN payloads included)."""
    flat = t.reshape(-1).contiguous()
    return flat.view(torch.uint8) if flat.numel() and flat.dtype != torch.bool else flat


def substring_renames(sd, prefix, renames):
    """(new_key, tensor) for keys under `prefix`, the prefix cut and each (a, b) applied with str.replace in order:
    the semantics of the diffusers conversion scripts."""
    for key, value in sd.items():
        if key.startswith(prefix):
            new = key[len(prefix):]
            for a, b in renames:
                new = new.replace(a, b)
            yield new, value


def run_cli(cli, *args, env=None, cwd=None):
    return subprocess.run([cli, *args], capture_output=True, text=True, env=env, cwd=cwd)


def convert_pt(cli, src, out, *extra):
    """`ckptconv convert` that must succeed; torch.load of what it wrote."""
    r = run_cli(cli, "convert", src, "-o", out, "-q", *extra)
    assert r.returncode == 0, r.stderr
    return torch.load(out)


def same_tensors(got, expected, ordered=True):
    """Same names (in the same order when `ordered`), dtypes, shapes and bytes."""
    if ordered:
        assert list(got) == list(expected), ([k for k in expected if k not in got][:4], [k for k in got if k not in expected][:4])
    else:
        assert set(got) == set(expected), (sorted(set(expected) - set(got))[:4], sorted(set(got) - set(expected))[:4])
    for k, t in expected.items():
        assert got[k].dtype == t.dtype and got[k].shape == t.shape, (k, got[k].shape, t.shape)
        assert torch.equal(bits(got[k]), bits(t)), f"{k}: bytes differ"


def detected_alone(cli, path, plugin):
    """`detect --json`'s selection, after checking no other plugin scores above the retry threshold (25)."""
    j = json.loads(run_cli(cli, "detect", path, "--json").stdout)
    others = {c["plugin"]: c["score"] for c in j["candidates"] if c["plugin"] != plugin}
    assert all(s <= 25 for s in others.values()), others
    return j["selected"]


def run_cases(cases):
    """Runs (name, fn) cases, one line each, then 'N passed, N failed'; returns the exit code."""
    passed = failed = 0
    for name, run in cases:
        try:
            run()
            print(f"ok    {name}")
            passed += 1
        except Exception as e:  # one line per failing case, then keep going
            print(f"FAIL  {name}: {e}")
            failed += 1
    print(f"{passed} passed, {failed} failed")
    return 1 if failed or not passed else 0


PROVENANCE_KEYS = {"ckptconv.version", "ckptconv.plugin", "ckptconv.source_format", "ckptconv.variant",
                   "ckptconv.target", "ckptconv.options", "ckptconv.sources"}


def check_metadata(meta, plugin=None):
    """A written __metadata__: format "pt" (transformers refuses a file without it) and ckptconv's provenance, every
    value a string as the format requires (target-loaders.md E.2, E.3); other keys are tied names (removed -> kept)."""
    assert meta.get("format") == "pt", meta
    assert {k for k in meta if k.startswith("ckptconv.")} == PROVENANCE_KEYS, sorted(meta)
    assert all(isinstance(v, str) for v in meta.values()), meta
    assert meta["ckptconv.plugin"].startswith((plugin or "") + ("@" if plugin else "")), meta["ckptconv.plugin"]
    sources = json.loads(meta["ckptconv.sources"])
    assert sources and all(isinstance(name, str) and "/" not in name and size > 0 for name, size in sources), sources
    assert isinstance(json.loads(meta["ckptconv.options"]), dict)


def pt_provenance(path):
    """What a torch zip written by ckptconv records about its making: a JSON record beside data.pkl, which
    torch.load never reads (target-loaders.md E.3), so the state dict stays exactly the model's."""
    with zipfile.ZipFile(path) as z:
        records = [n for n in z.namelist() if n.endswith("/.data/ckptconv.json")]
        assert len(records) == 1, z.namelist()
        meta = json.loads(z.read(records[0]))
    check_metadata(dict(meta, format="pt"))
    return meta


def strict_load(cls, model, expected, tied=()):
    """torch's load_state_dict(strict=True) for `cls`: the same names, then the same shapes. `tied` names may be
    missing (from_pretrained ties them to their sources)."""
    missing = sorted(set(expected) - set(model) - set(tied))
    unexpected = sorted(set(model) - set(expected))
    if missing or unexpected:
        raise RuntimeError(f"Error(s) in loading state_dict for {cls}: missing {missing[:4]}, unexpected {unexpected[:4]}")
    for k, t in model.items():
        assert tuple(t.shape) == expected[k], f"size mismatch for {k}: {tuple(t.shape)} vs {expected[k]}"


def read_model_folder(folder):
    """A transformers model folder as from_pretrained reads it: exactly config.json and model.safetensors, the
    config laid out as save_pretrained writes it. Returns (config, tensors, __metadata__)."""
    assert sorted(os.listdir(folder)) == ["config.json", "model.safetensors"], os.listdir(folder)
    with open(os.path.join(folder, "config.json")) as f:
        text = f.read()
    config = json.loads(text)
    assert text == json.dumps(config, indent=2, sort_keys=True) + "\n", "not laid out as save_pretrained does"
    tensors, meta = read_safetensors(os.path.join(folder, "model.safetensors"))
    return config, tensors, meta


def expect_refused(cli, src, out, message, *extra, code=5):
    """`ckptconv convert` must exit `code` naming `message` in stderr, and write nothing."""
    r = run_cli(cli, "convert", src, "-o", out, *extra)
    assert r.returncode == code and message in r.stderr, (r.returncode, r.stderr)
    assert not os.path.exists(out), out
