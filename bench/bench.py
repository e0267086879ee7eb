#!/usr/bin/python3
"""Benchmark ckptconv against the read+write floor and Python torch, in one run.

    /usr/bin/python3 bench/bench.py [--runs 3] [--work DIR] [--models 2b,5b,headers,lora,zero2,zero3] [--cli PATH]

Makes (once, in --work) full-size CogVideoX SAT checkpoints: a 2B folder
(fp16 transformer ~3.4 GB + fp32 VAE ~0.86 GB + a bf16 T5 encoder folder ~2.2 GB) and, with 5b, a bf16 5B
transformer (~11.1 GB; needs ~45 GB of free disk for input and outputs).
Times each command --runs times with /usr/bin/time -v, page cache warm
(one untimed read of each input first) and an untimed `sync` before every
run, and prints per model the medians of wall time and peak RSS with
ratios against `cat SRC > DST && sync DST` (the floor for a tool that fsyncs
its outputs; plain `cat` is listed too), against the same bytes piped to `dd oflag=direct`
(the floor for a tool that writes past the page cache, as ckptconv does) and the Python reference conversion.
`headers` times `inspect` of a 1M-tensor safetensors header (~96 MB) and of a
1M-entry shard index over 4 shards: parsing must stay linear. `zero2`/`zero3` make a 2B DeepSpeed folder
(~24 GB; bench/make_zero_checkpoint.py), time its conversion against `dd` of the bytes it must read and a
zero_to_fp32-style Python consolidation, then delete it (unless --keep). --cli benchmarks
another build (e.g. an older one) with the same cases.
Outputs are deleted before each run so every run writes fresh files.
After the timed runs it checks what the runs wrote: the 2B folder's
pipeline files carry the values of the detected variant (no --option
given), and the 5B transformer is split into the Hub's three shards.
"""
import json
import argparse
import os
import re
import shutil
import statistics
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CLI = os.path.join(HERE, "..", "build", "bin", "ckptconv")
PY = "/usr/bin/python3"


# ckptconv writes its outputs with O_DIRECT, past the page cache; the same bytes piped to dd with
# oflag=direct are the floor for that (on a VM where copying into cache pages is slow, `cat` is far above it).
DIRECT_FLOOR = "dd SRC oflag=direct (direct floor)"
DIRECT_FOLDER_FLOOR = "cat folder | dd oflag=direct (direct floor)"


def direct_copy(source_cmd, dst):
    """`source_cmd` is `cat 'FILE'` (dd reads the file itself) or any command printing the bytes (piped)."""
    single = re.fullmatch(r"cat '([^']*)'", source_cmd)
    source = f"dd if='{single.group(1)}'" if single else f"{source_cmd} | dd iflag=fullblock"
    return f"{source} of='{dst}' bs=4M oflag=direct conv=fsync status=none"


def timed(cmd, shell=False):
    full = ["/usr/bin/time", "-v"] + (["sh", "-c", cmd] if shell else cmd)
    # stdout goes to /dev/null, as a user timing a command would send it: a pipe read by this
    # script would time Python's reading too (inspect of a 1M-tensor file prints 44 MB).
    r = subprocess.run(full, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{cmd} failed: {r.stderr[-500:]}")
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", r.stderr)
    h, m, s = wall.groups()
    seconds = int(h or 0) * 3600 + int(m) * 60 + float(s)
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr).group(1))
    return seconds, rss_kb / 1024


def remove(path):
    if os.path.isdir(path):
        shutil.rmtree(path)
    elif os.path.exists(path):
        os.remove(path)


def cases_2b(work):
    folder = os.path.join(work, "sat_2b")
    src = os.path.join(folder, "transformer", "1000", "mp_rank_00_model_states.pt")
    if not os.path.exists(os.path.join(folder, "vae", "3d-vae.pt")):
        subprocess.run([PY, os.path.join(HERE, "make_sat_checkpoint.py"), folder, "--folder"], check=True)
    t5 = os.path.join(folder, "t5-v1_1-xxl")
    if not os.path.exists(os.path.join(t5, "spiece.model")):  # a folder made before the T5 was added
        subprocess.run([PY, os.path.join(HERE, "make_sat_checkpoint.py"), folder, "--t5"], check=True)
    everything = " ".join(f"'{os.path.join(d, f)}'" for d, _, fs in sorted(os.walk(folder)) for f in sorted(fs))
    out = lambda name: os.path.join(work, name)  # noqa: E731
    convert_py = os.path.join(HERE, "python_sat_to_diffusers.py")
    return src, [folder], [
        ("cat SRC > DST", [f"cat '{src}' > '{out('copy.pt')}'"], ["copy.pt"]),
        ("cat SRC > DST && sync DST (floor)", [f"cat '{src}' > '{out('copy.pt')}' && sync '{out('copy.pt')}'"],
         ["copy.pt"]),
        (DIRECT_FLOOR, [direct_copy(f"cat '{src}'", out('copy.pt'))], ["copy.pt"]),
        ("ckptconv inspect", [CLI, "inspect", src], []),
        ("ckptconv pt -> safetensors", [CLI, "convert", src, "-o", out("o.safetensors"), "--plugin", "none", "--to",
                                        "safetensors", "-q"], ["o.safetensors"]),
        ("ckptconv pt -> pt", [CLI, "convert", src, "-o", out("o.pt"), "--plugin", "none", "-q"], ["o.pt"]),
        ("python torch.load + torch.save", [PY, "-c", f"import torch; torch.save(torch.load('{src}'), '{out('py.pt')}')"],
         ["py.pt"]),
        # The real cogvideox_sat plan (every key renamed, every query_key_value split in three, adaLN chunks
        # reordered) written as diffusers safetensors, against the same conversion in Python.
        ("ckptconv SAT -> diffusers", [CLI, "convert", src, "-o", out("diffusers"), "-q"], ["diffusers"]),
        # The same through the page cache instead of O_DIRECT (--cached-writes, for slow direct I/O).
        ("ckptconv SAT -> diffusers --cached-writes", [CLI, "convert", src, "-o", out("diffusers_cached"), "-q",
                                                      "--cached-writes"], ["diffusers_cached"]),
        # The same with every tensor cast fp16 -> bf16 (issue #16: casts at the speed of copying).
        ("ckptconv SAT -> diffusers --dtype bf16", [CLI, "convert", src, "-o", out("diffusers_bf16"), "-q", "--dtype",
                                                   "bf16"], ["diffusers_bf16"]),
        ("python SAT -> safetensors", [PY, convert_py, src, out("py.safetensors"), "safetensors"], ["py.safetensors"]),
        ("python SAT -> torch.save", [PY, convert_py, src, out("py_conv.pt"), "pt"], ["py_conv.pt"]),
        # The whole folder, transformer, VAE and T5, variant detected from the transformer (no --option).
        ("cat folder (floor)", [f"cat {everything} > '{out('copy2.pt')}' && sync '{out('copy2.pt')}'"], ["copy2.pt"]),
        (DIRECT_FOLDER_FLOOR, [direct_copy(f"cat {everything}", out('copy2.pt'))], ["copy2.pt"]),
        ("ckptconv SAT folder -> pipeline", [CLI, "convert", folder, "-o", out("pipeline"), "-q"], ["pipeline"],
         check_2b),
        ("python SAT folder -> pipeline", [PY, convert_py, folder, out("py_pipeline"), "folder"], ["py_pipeline"]),
    ]


def cases_5b(work):
    src = os.path.join(work, "sat_5b.pt")
    if not os.path.exists(src):
        subprocess.run([PY, os.path.join(HERE, "make_sat_checkpoint.py"), src, "--model", "5b"], check=True)
    out = lambda name: os.path.join(work, name)  # noqa: E731
    return src, [src], [
        ("cat SRC > DST && sync DST (floor)", [f"cat '{src}' > '{out('copy5.pt')}' && sync '{out('copy5.pt')}'"],
         ["copy5.pt"]),
        (DIRECT_FLOOR, [direct_copy(f"cat '{src}'", out('copy5.pt'))], ["copy5.pt"]),
        ("ckptconv SAT -> diffusers", [CLI, "convert", src, "-o", out("diffusers5"), "-q"], ["diffusers5"], check_5b),
        ("python SAT -> safetensors", [PY, os.path.join(HERE, "python_sat_to_diffusers.py"), src,
                                       out("py5.safetensors"), "safetensors"], ["py5.safetensors"]),
    ]


def cases_lora(work):
    """A full-size 2B SAT LoRA fine-tune (rank 128 on every layer) as an engine save: adapter export, merge."""
    src = os.path.join(work, "sat_2b_lora128.pt")
    if not os.path.exists(src):
        subprocess.run([PY, os.path.join(HERE, "make_sat_checkpoint.py"), src, "--lora", "128"], check=True)
    out = lambda name: os.path.join(work, name)  # noqa: E731
    return src, [src], [
        ("cat SRC > DST && sync DST (floor)", [f"cat '{src}' > '{out('copyl.pt')}' && sync '{out('copyl.pt')}'"],
         ["copyl.pt"]),
        (DIRECT_FLOOR, [direct_copy(f"cat '{src}'", out('copyl.pt'))], ["copyl.pt"]),
        ("ckptconv SAT LoRA -> diffusers adapter", [CLI, "convert", src, "-o", out("adapter"), "-q"], ["adapter"],
         check_adapter),
        ("ckptconv SAT LoRA -> merged diffusers transformer",
         [CLI, "convert", src, "-o", out("merged"), "-q", "--option", "lora=merge"], ["merged"]),
        ("python SAT LoRA merge -> safetensors", [PY, os.path.join(HERE, "python_sat_to_diffusers.py"), src,
                                                  out("py_merged.safetensors"), "merge"], ["py_merged.safetensors"],
         lambda w: compare_merges(w, src)),
    ]


def cases_zero(work, stage):
    """A full-size 2B CogVideo finetune/ DeepSpeed folder (2 ranks, fp32 master and Adam moments) at ZeRO `stage`,
    converted to a bf16 diffusers transformer. The floor copies the bytes the conversion must read: `module`
    (ZeRO 2: the bf16 copy) or the fp32 partitions inside the optim files (ZeRO 3), with `dd`, `&& sync`."""
    folder = os.path.join(work, f"zero{stage}_2b")
    needed_file = os.path.join(folder, "needed.json")
    if not os.path.exists(needed_file):
        r = subprocess.run([PY, os.path.join(HERE, "make_zero_checkpoint.py"), folder, "--stage", str(stage)],
                           check=True, stdout=subprocess.PIPE, text=True)
        with open(needed_file, "w") as f:
            f.write(r.stdout)
    with open(needed_file) as f:
        needed = json.load(f)["needed"]
    if stage == 2:
        module = os.path.join(folder, "pytorch_model", "mp_rank_00_model_states.pt")
        needed = [(module, 0, os.path.getsize(module))]
    out = lambda name: os.path.join(work, name)  # noqa: E731
    dd = " ; ".join(f"dd if='{p}' bs=4M iflag=skip_bytes,count_bytes skip={o} count={n} status=none"
                    for p, o, n in needed)
    subprocess.run(f"{{ {dd} ; }} > /dev/null", shell=True, check=True)  # warm what fits of the needed bytes
    return folder, [], [
        ("cat SRC > DST && sync DST (floor)", [f"{{ {dd} ; }} > '{out('copyz')}' && sync '{out('copyz')}'"],
         ["copyz"]),
        (DIRECT_FLOOR, [direct_copy(f"{{ {dd} ; }}", out('copyz'))], ["copyz"]),
        (f"ckptconv ZeRO-{stage} folder -> bf16 diffusers transformer", [CLI, "convert", folder, "-o", out("zero_out"),
                                                                     "-q"], ["zero_out"]),
        ("python zero_to_fp32 style -> bf16 safetensors", [PY, os.path.join(HERE, "python_zero_to_fp32.py"), folder,
                                                            out("zero_py.safetensors")], ["zero_py.safetensors"]),
    ]


def read_st(path):
    """name -> (dtype, raw bytes as a numpy view) of a safetensors file, memory-mapped."""
    import numpy as np
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + n)
    return {k: (v["dtype"], data[v["data_offsets"][0]:v["data_offsets"][1]])
            for k, v in header.items() if k != "__metadata__"}


def compare_merges(work, src):
    """ckptconv's merge against the Python one (SAT's arithmetic in torch): elements whose bits differ, and by
    how many units in the last place (16-bit patterns compared as integers)."""
    import numpy as np
    mine = os.path.join(work, "merged_check")
    remove(mine)
    subprocess.run([CLI, "convert", src, "-o", mine, "-q", "--option", "lora=merge"], check=True)
    a = read_st(os.path.join(mine, "transformer", "diffusion_pytorch_model.safetensors"))
    b = read_st(os.path.join(work, "py_merged.safetensors"))
    assert set(a) == set(b), sorted(set(a) ^ set(b))[:4]
    differing, total, worst = 0, 0, 0
    for k, (dtype, raw) in a.items():
        x, y = raw.view(np.int16).astype(np.int32), b[k][1].view(np.int16).astype(np.int32)
        total += x.size
        diff = np.abs(x - y)
        differing += int((diff != 0).sum())
        worst = max(worst, int(diff.max()) if diff.size else 0)
    remove(mine)
    print(f"checked: merged transformer vs the Python merge: {differing} of {total} elements differ, "
          f"at most {worst} ulp", file=sys.stderr)


def check_adapter(work):
    """The adapter holds the 240 LoRA matrices of 30 layers at rank 128: 58,982,400 parameters (2.2)."""
    path = os.path.join(work, "adapter", "pytorch_lora_weights.safetensors")
    with open(path, "rb") as f:
        header = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))
    tensors = {k: v for k, v in header.items() if k != "__metadata__"}
    params = sum(v["shape"][0] * v["shape"][1] for v in tensors.values())
    assert len(tensors) == 240 and params == 58_982_400, (len(tensors), params)
    print(f"checked: adapter of 240 tensors, {params} parameters, {os.path.getsize(path)} bytes", file=sys.stderr)


def million_tensor_files(work):
    """A 1M-tensor safetensors file and a 1M-entry index over 4 shards (names as deep models have them)."""
    single = os.path.join(work, "million.safetensors")
    folder = os.path.join(work, "million_sharded")
    if os.path.exists(os.path.join(folder, "model.safetensors.index.json")):
        return single, folder
    names = [f"model.layers.{i // 100}.block.{i % 100}.weight" for i in range(1_000_000)]

    def write(path, part):
        header = {n: {"dtype": "F32", "shape": [1], "data_offsets": [4 * i, 4 * i + 4]} for i, n in enumerate(part)}
        text = json.dumps(header, separators=(",", ":")).encode()
        with open(path, "wb") as f:
            f.write(struct.pack("<Q", len(text)) + text + b"\0" * (4 * len(part)))

    write(single, names)
    os.makedirs(folder, exist_ok=True)
    weight_map = {}
    for k in range(4):
        shard = f"model-{k + 1:05d}-of-00004.safetensors"
        write(os.path.join(folder, shard), names[k::4])
        weight_map.update({n: shard for n in names[k::4]})
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": 4_000_000}, "weight_map": weight_map}, f)
    return single, folder


def cases_headers(work):
    single, folder = million_tensor_files(work)
    index = os.path.join(folder, "model.safetensors.index.json")
    return single, [single, folder], [
        ("cat SRC > DST && sync DST (floor)", [f"cat '{single}' > '{work}/copyh' && sync '{work}/copyh'"], ["copyh"]),
        ("ckptconv inspect 1M-tensor safetensors", [CLI, "inspect", single], []),
        ("ckptconv inspect 1M-entry shard index", [CLI, "inspect", index], []),
    ]


def check_2b(work):
    """What the last pipeline run wrote: 2B values taken from the transformer's detection."""
    out = os.path.join(work, "pipeline")
    with open(os.path.join(out, "scheduler", "scheduler_config.json")) as f:
        assert json.load(f)["snr_shift_scale"] == 3.0
    with open(os.path.join(out, "vae", "config.json")) as f:
        assert json.load(f)["scaling_factor"] == 1.15258426
    with open(os.path.join(out, "model_index.json")) as f:
        index = json.load(f)
    assert index["_class_name"] == "CogVideoXPipeline" and index["text_encoder"] == ["transformers", "T5EncoderModel"]
    assert index["tokenizer"] == ["transformers", "T5Tokenizer"], index
    t5 = os.path.join(work, "sat_2b", "t5-v1_1-xxl")
    for name in os.listdir(t5):
        sub = "text_encoder" if name == "config.json" or ".safetensors" in name else "tokenizer"
        r = subprocess.run(["cmp", os.path.join(t5, name), os.path.join(out, sub, name)])
        assert r.returncode == 0, f"{sub}/{name} differs from the source"
    print("checked: 2B pipeline folder holds snr_shift_scale 3.0 and scaling_factor 1.15258426, and the T5 "
          "folder's files unchanged in text_encoder/ and tokenizer/", file=sys.stderr)


def check_5b(work):
    """The Hub's split of a 5B bf16 transformer (cogvideox.md 7): three shards of these tensor bytes."""
    folder = os.path.join(work, "diffusers5", "transformer")
    with open(os.path.join(folder, "diffusion_pytorch_model.safetensors.index.json")) as f:
        index = json.load(f)
    names = sorted(set(index["weight_map"].values()))
    assert names == [f"diffusion_pytorch_model-0000{k}-of-00003.safetensors" for k in (1, 2, 3)], names
    data = []
    for name in names:
        with open(os.path.join(folder, name), "rb") as f:
            n = struct.unpack("<Q", f.read(8))[0]
            header = json.loads(f.read(n))
        data.append(max(h["data_offsets"][1] for k, h in header.items() if k != "__metadata__"))
    assert index["metadata"]["total_size"] == sum(data) == 11_140_566_144, (index["metadata"], data)
    assert data == [4_977_249_792, 4_947_987_968, 1_215_328_384], data
    print(f"checked: 5B transformer in the Hub's 3 shards of {data} tensor bytes", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--work", default="/tmp/ckptconv-bench")
    ap.add_argument("--models", default="2b", help="comma-separated: 2b, 5b, headers, lora, zero2, zero3")
    ap.add_argument("--keep", action="store_true", help="keep the generated ZeRO folders (~24 GB each)")
    ap.add_argument("--cli", default=CLI, help="the ckptconv binary to time")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    globals()["CLI"] = os.path.abspath(args.cli)
    models = {"2b": cases_2b, "5b": cases_5b, "headers": cases_headers, "lora": cases_lora,
              "zero2": lambda w: cases_zero(w, 2), "zero3": lambda w: cases_zero(w, 3)}
    for model in args.models.split(","):
        src, warm, cases = models[model](args.work)
        for w in warm:
            subprocess.run(f"cat $(find '{w}' -type f) > /dev/null", shell=True, check=True)  # warm the page cache
        results = {}
        for name, cmd, produced, *check in cases:
            samples = []
            for _ in range(args.runs):
                for p in produced:
                    remove(os.path.join(args.work, p))
                subprocess.run(["sync"], check=True)  # earlier runs' writeback must not throttle this one
                samples.append(timed(cmd[0], shell=True) if len(cmd) == 1 else timed(cmd))
            if check:
                check[0](args.work)  # outside the timing, on the last run's output
            for p in produced:
                remove(os.path.join(args.work, p))
            results[name] = (statistics.median(s for s, _ in samples), statistics.median(r for _, r in samples),
                             [round(s, 2) for s, _ in samples])
            print(f"{model} {name}: {results[name][2]} s, peak RSS {results[name][1]:.0f} MB", file=sys.stderr)
        size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(src) for f in fs) \
            if os.path.isdir(src) else os.path.getsize(src)
        if model.startswith("zero") and not args.keep:
            remove(src)  # ~24 GB: the issue asks for the folders to go after the run
        print(f"\n{model}: input {size / 1e9:.2f} GB, {os.cpu_count()} cores, page cache warm, "
              f"median of {args.runs} runs\n")
        print("| command | wall s (median) | x its cat | x its direct floor | python / this | peak RSS MB |")
        print("|---|---|---|---|---|---|")
        for name, (wall, rss, _) in results.items():
            folder_case = ("folder" in name or "pipeline" in name) and not model.startswith("zero")
            floor = results["cat folder (floor)" if folder_case else "cat SRC > DST && sync DST (floor)"][0]
            direct = results.get(DIRECT_FOLDER_FLOOR if folder_case else DIRECT_FLOOR)
            direct_ratio = f"{wall / direct[0]:.2f}" if direct else "-"
            python = results.get("python SAT folder -> pipeline" if folder_case else
                                 "python SAT LoRA merge -> safetensors" if model == "lora" else
                                 "python zero_to_fp32 style -> bf16 safetensors" if model.startswith("zero") else
                                 "python SAT -> safetensors")
            ratio = f"{python[0] / wall:.1f}" if python else "-"
            print(f"| {name} | {wall:.2f} | {wall / floor:.2f} | {direct_ratio} | {ratio} | {rss:.0f} |")


if __name__ == "__main__":
    main()
