#!/usr/bin/python3
"""Faults while converting: signals mid-write, an input truncated under the reader, a full
disk, a read-only folder, files planted at the output's name.

    /usr/bin/python3 tests/hostile/faults_oracle.py CLI

Every case asserts the exit code, the message and that nothing is left behind (no
temporary, no partial output). Cases needing a tmpfs mount say "skipped" where the
machine does not allow mounting (they run as root on CI).
"""
import os
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zipfile

CLI = sys.argv[1]
BIG = 768 << 20  # large enough that a copy takes long enough to be interrupted
RESULTS = []


def big_checkpoint(path, nbytes=BIG, count=1):
    """A torch.save zip of `count` float32 tensors of `nbytes` bytes each, written without torch (fast)."""
    n = nbytes // 4
    entries = b""
    for i in range(count):
        key = str(i).encode()
        pid = (b"(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX" + struct.pack("<I", len(key)) + key +
               b"X\x03\x00\x00\x00cpuJ" + struct.pack("<i", n) + b"tQ")
        tensor = (b"ctorch._utils\n_rebuild_tensor_v2\n(" + pid + b"K\x00(J" + struct.pack("<i", n) +
                  b"t(K\x01t\x89ccollections\nOrderedDict\n)Rt" + b"R")
        entries += b"X" + struct.pack("<I", len(key) + 1) + b"w" + key + tensor
    pkl = b"\x80\x02}(" + entries + b"u."
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", pkl)
        for i in range(count):
            with z.open(f"archive/data/{i}", "w", force_zip64=True) as w:
                chunk = bytes(range(256)) * 4096
                for _ in range(max(1, nbytes // len(chunk))):
                    w.write(chunk[:nbytes] if nbytes < len(chunk) else chunk)
        z.writestr("archive/byteorder", b"little")
        z.writestr("archive/version", b"3\n")


def temporaries(folder):
    return [n for n in os.listdir(folder) if ".ckptconv-tmp-" in n]


def wait_for_temp(proc, folder, timeout=30):
    end = time.time() + timeout
    while time.time() < end and proc.poll() is None:
        if temporaries(folder):
            return True
        time.sleep(0.0005)
    return False


def check(name, cond, detail=""):
    RESULTS.append((name, cond))
    print(("ok   " if cond else "FAIL ") + name + ("" if cond else f": {detail}"))


def signals(tmp, src):
    for sig, code in ((signal.SIGINT, 130), (signal.SIGTERM, 143), (signal.SIGHUP, 129)):
        out_dir = os.path.join(tmp, f"sig{code}")
        os.mkdir(out_dir)
        proc = subprocess.Popen([CLI, "convert", src, "-o", os.path.join(out_dir, "out.safetensors"), "--plugin",
                                 "none", "--to", "safetensors"], stderr=subprocess.PIPE, text=True)
        caught = wait_for_temp(proc, out_dir)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
        if not caught:
            check(f"signal {sig.name} mid-write", False, "finished before the signal could be sent")
            continue
        check(f"signal {sig.name} mid-write exits {code} and leaves nothing",
              proc.returncode == code and os.listdir(out_dir) == [] and "temporary outputs removed" in err,
              f"exit {proc.returncode}, left {os.listdir(out_dir)}, {err!r}")


def truncated_input(tmp, src):
    for target, extra in (("out.pt", []), ("out.safetensors", ["--to", "safetensors"])):
        copy = os.path.join(tmp, "shrinking.pt")
        with open(src, "rb") as f, open(copy, "wb") as g:
            while chunk := f.read(64 << 20):
                g.write(chunk)
        out_dir = os.path.join(tmp, "trunc_" + target.replace(".", "_"))
        os.mkdir(out_dir)
        proc = subprocess.Popen([CLI, "convert", copy, "-o", os.path.join(out_dir, target), "--plugin", "none",
                                 *extra], stderr=subprocess.PIPE, text=True)
        caught = wait_for_temp(proc, out_dir)
        os.truncate(copy, 1 << 20)
        _, err = proc.communicate(timeout=60)
        if not caught:
            check(f"input truncated mid-run ({target})", False, "finished before the truncation")
            continue
        check(f"input truncated mid-run ({target}) is exit 3 naming the file, nothing left",
              proc.returncode == 3 and copy in err and os.listdir(out_dir) == [],
              f"exit {proc.returncode}, left {os.listdir(out_dir)}, {err!r}")
        os.remove(copy)
    # diff reads both inputs through their mappings: a shrinking one is a named error, not SIGBUS.
    a, b = os.path.join(tmp, "a.pt"), os.path.join(tmp, "b.pt")
    for p in (a, b):
        big_checkpoint(p, 256 << 20)
    proc = subprocess.Popen([CLI, "diff", a, b], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(0.05)
    os.truncate(b, 1 << 20)
    _, err = proc.communicate(timeout=60)
    check("diff with an input truncated mid-run never dies of SIGBUS",
          proc.returncode in (0, 3, 7) and proc.returncode >= 0, f"exit {proc.returncode}, {err!r}")


def mounted_tmpfs(path, options):
    os.makedirs(path, exist_ok=True)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", path], capture_output=True)
    return r.returncode == 0


def full_disk_and_read_only(tmp, src_small):
    """A conversion into a 2 MB tmpfs, then into a read-only one: exit 6 naming the cause, nothing left."""
    for name, options, cause in (("disk full", "size=2m", "No space left"),
                                 ("read-only folder", "ro,size=1m", "Read-only file system")):
        folder = os.path.join(tmp, name.replace(" ", "_"))
        if not mounted_tmpfs(folder, options):
            print(f"skipped: {name} (this machine does not allow mounting a tmpfs)")
            continue
        try:
            r = subprocess.run([CLI, "convert", src_small, "-o", os.path.join(folder, "out.pt"), "--plugin", "none"],
                               capture_output=True, text=True, timeout=60)
            check(f"{name} is exit 6 naming the cause, nothing left",
                  r.returncode == 6 and cause in r.stderr and os.listdir(folder) == [],
                  f"exit {r.returncode}, left {os.listdir(folder)}, {r.stderr!r}")
        finally:
            subprocess.run(["umount", folder])


def planted_outputs(tmp, src_small):
    victim = os.path.join(tmp, "victim.txt")
    with open(victim, "w") as f:
        f.write("keep me")
    out_dir = os.path.join(tmp, "planted")
    os.mkdir(out_dir)
    link = os.path.join(out_dir, "out.pt")
    os.symlink(victim, link)
    r = subprocess.run([CLI, "convert", src_small, "-o", link, "--plugin", "none", "--force"], capture_output=True,
                       text=True)
    check("--force never writes through a symlink planted at the output",
          r.returncode == 6 and open(victim).read() == "keep me" and "not a regular file" in r.stderr,
          f"exit {r.returncode}, {r.stderr!r}")
    os.remove(link)
    fifo = os.path.join(out_dir, "fifo.pt")
    os.mkfifo(fifo)
    r = subprocess.run([CLI, "convert", src_small, "-o", fifo, "--plugin", "none", "--force"], capture_output=True,
                       text=True, timeout=30)
    check("--force does not replace a FIFO", r.returncode == 6 and os.path.exists(fifo) and
          not os.path.isfile(fifo), r.stderr)
    os.remove(fifo)
    # A stale temporary of a killed run (pid that no longer exists) is swept, never taken for the output.
    stale = os.path.join(out_dir, ".out.pt.ckptconv-tmp-999999999-0123456789abcdef")
    with open(stale, "w") as f:
        f.write("partial")
    r = subprocess.run([CLI, "convert", src_small, "-o", os.path.join(out_dir, "out.pt"), "--plugin", "none"],
                       capture_output=True, text=True)
    check("a killed run's temporary is removed by the next run",
          r.returncode == 0 and sorted(os.listdir(out_dir)) == ["out.pt"], f"{os.listdir(out_dir)} {r.stderr!r}")
    # --force replacing a sharded output with a single file removes the old index and shards.
    sharded = os.path.join(tmp, "sharded")
    os.mkdir(sharded)
    target = os.path.join(sharded, "model.safetensors")
    r1 = subprocess.run([CLI, "convert", src_small, "-o", target, "--plugin", "none", "--to", "safetensors",
                         "--shard-size", "1MB"], capture_output=True, text=True)
    before = sorted(os.listdir(sharded))
    r2 = subprocess.run([CLI, "convert", src_small, "-o", target, "--plugin", "none", "--to", "safetensors",
                         "--force"], capture_output=True, text=True)
    check("replacing a sharded output removes its old shards",
          r1.returncode == 0 and r2.returncode == 0 and len(before) > 2 and os.listdir(sharded) == ["model.safetensors"],
          f"{before} -> {os.listdir(sharded)} {r1.stderr} {r2.stderr}")
    # The input's own index is never replaced, even with --force.
    index = os.path.join(sharded, "model.safetensors.index.json")
    subprocess.run([CLI, "convert", src_small, "-o", target, "--plugin", "none", "--to", "safetensors",
                    "--shard-size", "1MB", "--force"], capture_output=True, text=True)
    r = subprocess.run([CLI, "convert", index, "-o", index, "--plugin", "none", "--force"], capture_output=True,
                       text=True)
    check("--force never replaces a file the input was read from (the shard index)",
          r.returncode == 6 and "is an input of this conversion" in r.stderr, r.stderr)


def main():
    with tempfile.TemporaryDirectory(dir=os.environ.get("CKPTCONV_FAULTS_TMP")) as tmp:
        src = os.path.join(tmp, "big.pt")
        big_checkpoint(src)
        small = os.path.join(tmp, "small.pt")
        big_checkpoint(small, 1 << 20, count=4)
        signals(tmp, src)
        truncated_input(tmp, src)
        full_disk_and_read_only(tmp, small)
        planted_outputs(tmp, small)
    failed = sum(1 for _, ok in RESULTS if not ok)
    print(f"{len(RESULTS) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
