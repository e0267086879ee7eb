#!/usr/bin/python3
"""Writes the hostile corpus: crafted inputs every reader must refuse cleanly.

    /usr/bin/python3 tests/hostile/make_hostile.py [OUT_DIR]   (default tests/corpus/_hostile)

Each case is one input (a file or a folder) plus what ckptconv must answer:
the exit code and a phrase of the message. cases.json lists them; CMake makes
one ctest case of each (tests/hostile/run_case.py), which also checks that
nothing was written or left behind and that the input is unchanged. Cases whose
input cannot live in git (FIFOs, devices) are made by the runner at test time.
Classes: pickle VM (code-execution globals under every spelling, gadget chains,
caps, cycles, depth), torch zip (wraparound, zip bombs, lies in the directory),
legacy, safetensors, sharded folders, DeepSpeed folders, special files.
Pickles are written opcode by opcode, never by pickle.dumps of a live object:
nothing here ever runs a payload.
"""
import json
import os
import shutil
import struct
import sys
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "corpus", "_hostile")
shutil.rmtree(OUT, ignore_errors=True)
os.makedirs(OUT)
CASES = []


# --- pickle opcodes -----------------------------------------------------------------------------

def G(module, name):
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def S(text):
    raw = text.encode() if isinstance(text, str) else text
    return b"X" + struct.pack("<I", len(raw)) + raw


def I(v):
    return b"J" + struct.pack("<i", v) if v < 0 or v > 255 else b"K" + bytes([v])


def L8(v):
    """LONG1 with 8 bytes: any int64."""
    return b"\x8a\x08" + struct.pack("<q", v)


def T(*items):
    return b"(" + b"".join(items) + b"t"


PROTO2 = b"\x80\x02"
OD = G("collections", "OrderedDict") + b")R"


def tensor(key="0", offset=I(0), shape=(I(2),), stride=(I(1),), numel=I(2), storage="FloatStorage"):
    pid = T(S("storage"), G("torch", storage), S(key), S("cpu"), numel) + b"Q"
    return G("torch._utils", "_rebuild_tensor_v2") + T(pid, offset, T(*shape), T(*stride), b"\x89", OD) + b"R"


def state_dict(extra=b""):
    """{'w': tensor(2 floats), <extra entries>} as a protocol-2 pickle."""
    return PROTO2 + b"}(" + S("w") + tensor() + extra + b"u."


def call(g, *args):
    return g + T(*args) + b"R"


# --- containers ---------------------------------------------------------------------------------

def write_zip(path, pickle, records=None, data_pkl_name="archive/data.pkl", compress_pkl=False, byteorder=b"little"):
    records = {"archive/data/0": b"\x00" * 8} if records is None else records
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(zipfile.ZipInfo(data_pkl_name), pickle,
                   compress_type=zipfile.ZIP_DEFLATED if compress_pkl else zipfile.ZIP_STORED)
        for name, data in records.items():
            z.writestr(zipfile.ZipInfo(name), data)
        z.writestr(zipfile.ZipInfo("archive/byteorder"), byteorder)
        z.writestr(zipfile.ZipInfo("archive/version"), b"3\n")


def out(name):
    return os.path.join(OUT, name)


def case(name, path, exit_code, message, args=None, special=None):
    CASES.append({"name": name, "input": os.path.relpath(path, OUT) if path else "", "exit": exit_code,
                  "message": message, "args": args or [], "special": special})


def pt_case(name, pickle, exit_code, message, **kw):
    path = out(name + ".pt")
    write_zip(path, pickle, **kw)
    case(name, path, exit_code, message)


# --- 1. code-execution globals, every spelling --------------------------------------------------

CODE_GLOBALS = [
    ("os", "system"), ("posix", "system"), ("nt", "system"), ("subprocess", "Popen"), ("subprocess", "check_output"),
    ("builtins", "eval"), ("builtins", "exec"), ("__builtin__", "compile"), ("builtins", "open"),
    ("builtins", "__import__"), ("builtins", "breakpoint"), ("cProfile", "run"), ("profile", "run"),
    ("timeit", "timeit"), ("trace", "Trace"), ("pdb", "run"), ("doctest", "debug_script"), ("pip", "main"),
    ("ensurepip", "_run_pip"), ("runpy", "_run_code"), ("pty", "spawn"), ("ctypes", "CDLL"),
    ("distutils.file_util", "write_file"), ("_io", "FileIO"), ("io", "open"), ("codecs", "open"),
    ("logging", "FileHandler"), ("urllib.request", "urlopen"), ("uuid", "_get_command_stdout"),
    ("imaplib", "IMAP4_stream"), ("webbrowser", "open"), ("shutil", "rmtree"), ("socket", "create_connection"),
    ("functools", "partial"), ("operator", "attrgetter"), ("_operator", "methodcaller"), ("pydoc", "locate"),
    ("pkgutil", "resolve_name"), ("importlib", "import_module"), ("torch", "load"), ("torch.serialization", "load"),
    ("numpy", "load"), ("torch.hub", "load"), ("torch.jit", "load"), ("torch.storage", "_load_from_bytes"),
    ("torch._inductor.codecache", "compile_file"), ("torch.utils.collect_env", "run"),
    ("torch._dynamo.guards", "GuardBuilder"), ("numpy.f2py.crackfortran", "getlincoef"),
    ("numpy.testing._private.utils", "runstring"), ("pickle", "loads"), ("_pickle", "loads"), ("marshal", "loads"),
    ("code", "InteractiveInterpreter"), ("asyncio.unix_events", "_UnixSubprocessTransport"),
    ("multiprocessing", "Process"), ("signal", "signal"), ("tempfile", "mkstemp"), ("sys", "exit"),
    ("types", "CodeType"), ("inspect", "getsource"), ("idlelib.run", "runcode"),
]
for module, name in CODE_GLOBALS:
    payload = call(G(module, name), S("touch /tmp/ckptconv-pwned"))
    pt_case(f"global_{module}_{name}".replace(".", "_"), state_dict(S("x") + payload), 3,
            "unsafe pickle: global '" + ("builtins" if module == "__builtin__" else module) + "." + name + "'")

# Re-exports and dotted names (protocol 4 resolves dots in GLOBAL too).
pt_case("reexport_torch_serialization_os", state_dict(S("x") + G("torch.serialization", "os")), 3,
        "'torch.serialization.os' reaches module 'os'")
pt_case("dotted_pathlib_os_system", b"\x80\x04" + state_dict(S("x") + call(G("pathlib", "os.system"), S("id")))[2:],
        3, "'pathlib.os.system' reaches module 'os'")
pt_case("stack_global_dotted", b"\x80\x04" + state_dict(
    S("x") + b"\x8c\x07pathlib\x8c\tos.system\x93" + T(S("id")) + b"R")[2:], 3, "'pathlib.os.system'")
pt_case("numpy_internal_sys", state_dict(S("x") + G("numpy", "core._internal.sys")), 3, "reaches module 'sys'")
pt_case("numpy_dunder_builtins", state_dict(S("x") + G("numpy", "__builtins__")), 3, "interpreter internals")
pt_case("torch_os_system", state_dict(S("x") + G("torch", "os.system")), 3, "'torch.os.system'")
# getattr chains: reaching a callable, a dunder, or calling the result.
pt_case("getattr_os_system", state_dict(S("x") + call(G("builtins", "getattr"), G("os", "path"), S("join"))), 3,
        "reaches module 'os'")
pt_case("getattr_dunder", state_dict(S("x") + call(G("builtins", "getattr"), G("argparse", "Namespace"),
                                                    S("__subclasses__"))), 3, "builtins.getattr")
pt_case("getattr_result_called", state_dict(S("x") + call(G("builtins", "getattr"), G("collections", "OrderedDict"),
                                                           S("fromkeys")) + T(S("a")) + b"R"), 3,
        "calls a computed value")
pt_case("getattr_chain", state_dict(S("x") + call(G("builtins", "getattr"),
                                                   call(G("builtins", "getattr"), G("argparse", "Namespace"),
                                                        S("x")), S("y"))), 3, "builtins.getattr on")
pt_case("getattr_system_name", state_dict(S("x") + call(G("builtins", "getattr"), G("argparse", "Namespace"),
                                                         S("system"))), 3, "builtins.getattr")
pt_case("call_of_call", state_dict(S("x") + call(G("argparse", "Namespace")) + b")R"), 3, "calls a computed value")
pt_case("inst_os_system", PROTO2 + b"}(" + S("w") + tensor() + S("x") + b"(" + S("id") + b"ios\nsystem\nu.", 3,
        "'os.system'")

# --- 2. pickle VM caps, cycles, depth -----------------------------------------------------------

pt_case("pickle_list_contains_itself", PROTO2 + b"}(" + S("w") + tensor() + S("x") + b"]q\x00h\x00au.", 3,
        "cycle")
pt_case("pickle_dict_contains_itself", PROTO2 + b"}q\x00(" + S("w") + tensor() + S("x") + b"h\x00u.", 3, "cycle")
pt_case("pickle_set_contains_itself",
        PROTO2 + b"}(" + S("w") + tensor() + S("x") + G("builtins", "set") + b"(]q\x01tRq\x02h\x01h\x02a0u.", 3,
        "cycle")
pt_case("pickle_deep_lists", PROTO2 + b"}(" + S("w") + tensor() + S("x") + b"(" * 300 + b"l" * 300 + b"u.", 3,
        "nested deeper than 200")
pt_case("pickle_deep_tuples", PROTO2 + b"}(" + S("w") + tensor() + S("x") + b"N" + b"\x85" * 300 + b"u.", 3,
        "nested deeper than 200")
deep_wrapper = G("torch._tensor", "_rebuild_from_type_v2") + b"q\x09"
pt_case("pickle_deep_subclass_wrappers_are_read", PROTO2 + b"}(" + S("w") + deep_wrapper + b"(h\x09N" * 50000 +
        b"(" + G("torch._utils", "_rebuild_tensor_v2") + T(T(S("storage"), G("torch", "FloatStorage"), S("0"),
                                                             S("cpu"), I(2)) + b"Q" + I(0), T(I(2)), T(I(1)),
                                                           b"\x89", OD) + b"Nt" + b"Nt" * 50000 + b"Ru.", 0, "")
CASES[-1]["args"] = ["--plugin", "none"]
# A tuple holding the previous one twice, 60 deep: 2^60 paths through a small memo-shared graph.
# Read, indexed and written as pt in linear time (the writer memoizes shared tuples).
pt_case("pickle_shared_tuple_graph", state_dict(S("x") + b"N\x85q\x00" + b"h\x00h\x00\x86q\x00" * 60), 0, "")
CASES[-1]["args"] = ["--plugin", "none"]
pt_case("pickle_shared_tuple_graph_of_tensors",
        state_dict(S("x") + tensor() + b"\x85q\x00" + b"h\x00h\x00\x86q\x00" * 60), 0, "")
CASES[-1]["args"] = ["--plugin", "none"]
pt_case("pickle_mark_flood", PROTO2 + b"(" * 70000 + b".", 3, "open MARKs")
pt_case("pickle_stack_flood", PROTO2 + b"N" * 300000 + b".", 3, "pickle stack deeper than 262144 entries")
pt_case("pickle_object_flood", PROTO2 + b"]" + b"]a" * 1_200_000 + b".", 3, "objects for a")
pt_case("pickle_memo_unknown", state_dict(S("x") + b"h\x07"), 3, "memo key 7 was never stored")
pt_case("pickle_string_past_end", PROTO2 + b"X\xff\xff\xff\x7f", 3, "truncated pickle")
pt_case("pickle_long4_huge", PROTO2 + b"\x8b\xff\xff\xff\x7f", 3, "truncated pickle")
pt_case("pickle_binbytes8_huge", PROTO2 + b"\x8e" + struct.pack("<Q", 2**63), 3, "truncated pickle")
pt_case("pickle_unknown_opcode", PROTO2 + b"\xfe.", 3, "unknown pickle opcode 0xfe")
pt_case("pickle_ext1", PROTO2 + b"\x82\x01.", 3, "EXT1")
pt_case("pickle_no_stop", PROTO2 + b"K\x01", 3, "no STOP")
pt_case("pickle_persid_not_tuple", PROTO2 + I(3) + b"Q.", 3, "persistent id is not a ('storage', ...) tuple")
pt_case("pickle_storage_class_not_torch", PROTO2 + T(S("storage"), G("numpy", "ndarray"), S("0"), S("cpu"), I(2)) +
        b"Q.", 3, "is not a torch storage")
pt_case("pickle_negative_numel", PROTO2 + T(S("storage"), G("torch", "FloatStorage"), S("0"), S("cpu"), I(-5)) +
        b"Q.", 3, "malformed storage persistent id")
pt_case("pickle_setitem_on_list", PROTO2 + b"]" + S("a") + I(1) + b"s.", 3, "SETITEM on a list")

# --- 3. torch zip: wraparound, bombs, directory lies -------------------------------------------

def one_tensor(**kw):
    return PROTO2 + b"}(" + S("w") + tensor(**kw) + b"u."


pt_case("stride_wraparound", one_tensor(shape=(I(2),), stride=(L8(2**62),), offset=I(0)), 3,
        "tensor 'w' extent overflows 64 bits")
pt_case("offset_plus_reach_wraps", one_tensor(shape=(I(2),), stride=(L8(2**62 - 1),), offset=L8(2**62 + 3)), 3,
        "overflows 64 bits")
pt_case("offset_far_past_storage", one_tensor(shape=(I(1),), stride=(I(1),), offset=L8(2**61)), 3,
        "but the file holds 8")
pt_case("size_times_stride_wraps", one_tensor(shape=(L8(2**33), L8(2**33)), stride=(I(1), I(0))), 3, "overflows")
pt_case("negative_stride", one_tensor(stride=(I(-1),)), 3, "stride in dimension 0 is negative")
pt_case("negative_offset", one_tensor(offset=I(-4)), 3, "storage offset is negative")
pt_case("view_past_storage", one_tensor(offset=I(1)), 3, "needs 12 bytes of storage '0' but the file holds 8")
pt_case("storage_numel_overflow", one_tensor(numel=L8(2**62)), 3, "storage '0' size overflows")
pt_case("storage_record_missing", one_tensor(key="9"), 3, "storage record 'archive/data/9' is missing")
pt_case("storage_record_short", one_tensor(numel=I(100)), 3, "holds 8 bytes but its tensors declare 400")
pt_case("torchscript_archive", one_tensor(), 3, "TorchScript archive",
        records={"archive/data/0": b"\x00" * 8, "archive/constants.pkl": PROTO2 + b"N."})
pt_case("big_endian", one_tensor(), 3, "big-endian checkpoints are not supported", byteorder=b"big")


def patch_zip(name, edit, message):
    src = out(name + ".pt")
    write_zip(src, one_tensor())
    with open(src, "rb") as f:
        data = bytearray(f.read())
    edit(data)
    with open(src, "wb") as f:
        f.write(data)
    case(name, src, 3, message)


def zip_with_deflated_pkl_claiming(size_field, name):
    src = out(name + ".pt")
    write_zip(src, one_tensor(), compress_pkl=True)
    with open(src, "rb") as f:
        data = bytearray(f.read())
    cd = data.find(b"PK\x01\x02")
    data[cd + 24:cd + 28] = struct.pack("<I", size_field)
    with open(src, "wb") as f:
        f.write(data)


zip_with_deflated_pkl_claiming(0x0C000000, "data_pkl_deflate_bomb")  # 201 MB from a few bytes
case("data_pkl_deflate_bomb", out("data_pkl_deflate_bomb.pt"), 3, "implausible size for deflated entry")
# A real bomb: 300 MiB deflate to ~300 KB, an honest ratio, past the 256 MiB cap for a record.
with zipfile.ZipFile(out("data_pkl_real_bomb.pt"), "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as z:
    with z.open("archive/data.pkl", "w", force_zip64=True) as w:
        chunk = b"N" * (1 << 20)
        for _ in range(300):
            w.write(chunk)
case("data_pkl_real_bomb", out("data_pkl_real_bomb.pt"), 3, "inflates past the 268435456-byte cap")
patch_zip("cd_count_lie", lambda d: d.__setitem__(slice(len(d) - 12, len(d) - 10), b"\xff\xff"),
          "central directory too small for its entry count")
patch_zip("cd_offset_past_end", lambda d: d.__setitem__(slice(len(d) - 6, len(d) - 2), b"\xff\xff\xff\x7f"),
          "central directory lies outside the file")
patch_zip("local_header_offset_lie",
          lambda d: d.__setitem__(slice(d.find(b"PK\x01\x02") + 42, d.find(b"PK\x01\x02") + 46), b"\x10\x00\x00\x00"),
          "local header of 'archive/data.pkl' not found")
patch_zip("entry_size_past_end",
          lambda d: d.__setitem__(slice(d.find(b"PK\x01\x02") + 20, d.find(b"PK\x01\x02") + 24), b"\xff\xff\xff\x0f"),
          "lies outside the file")
patch_zip("compression_method_unknown",
          lambda d: d.__setitem__(slice(d.find(b"PK\x01\x02") + 10, d.find(b"PK\x01\x02") + 12), b"\x0e\x00"),
          "compression method 14")
patch_zip("eocd_missing", lambda d: d.__setitem__(slice(len(d) - 22, len(d) - 18), b"XXXX"),
          "end-of-central-directory record not found")
patch_zip("crc_mismatch", lambda d: d.__setitem__(slice(d.find(b"PK\x01\x02") + 16, d.find(b"PK\x01\x02") + 20),
                                                  b"\x01\x02\x03\x04"), "CRC mismatch")

# --- 4. legacy ----------------------------------------------------------------------------------

LEGACY_MAGIC = b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19."


def legacy(name, obj_pickle, keys=(b"0",), storages=(struct.pack("<q", 2) + b"\x00" * 8,), protocol=1001,
           exit_code=3, message=""):
    path = out(name + ".pt")
    with open(path, "wb") as f:
        f.write(LEGACY_MAGIC + PROTO2 + I(protocol) + b"." + PROTO2 + b"}" + S("little_endian") + b"\x88s.")
        f.write(obj_pickle)
        f.write(PROTO2 + b"(" + b"".join(S(k.decode()) for k in keys) + b"l.")
        for s in storages:
            f.write(s)
    case(name, path, exit_code, message)


def legacy_tensor(offset=I(0), shape=(I(2),), stride=(I(1),), view=None):
    pid = T(S("storage"), G("torch", "FloatStorage"), S("0"), S("cpu"), I(2), view or b"N") + b"Q"
    return G("torch._utils", "_rebuild_tensor_v2") + T(pid, offset, T(*shape), T(*stride), b"\x89", OD) + b"R"


legacy("legacy_storage_numel_huge", PROTO2 + b"}(" + S("w") + legacy_tensor() + b"u.",
       storages=(struct.pack("<q", 2**62),), message="declares 4611686018427387904 elements but the file ends")
legacy("legacy_view_offset_wraps", PROTO2 + b"}(" + S("w") + legacy_tensor(
    offset=L8(2**63 - 1), view=T(S("0"), L8(2**63 - 1), I(2))) + b"u.", message="storage offset overflows")
legacy("legacy_stride_wraps", PROTO2 + b"}(" + S("w") + legacy_tensor(stride=(L8(2**63 - 1),)) + b"u.",
       message="overflows 64 bits")
legacy("legacy_bad_protocol", PROTO2 + b"}(" + S("w") + legacy_tensor() + b"u.", protocol=7,
       message="legacy protocol version is not 1001")
legacy("legacy_unused_storage", PROTO2 + b"}(" + S("w") + legacy_tensor() + b"u.", keys=(b"0", b"zz"),
       message="legacy storage 'zz' is not used by any tensor")
legacy("legacy_os_system", PROTO2 + b"}(" + S("w") + legacy_tensor() + S("x") + call(G("os", "system"), S("id")) +
       b"u.", message="unsafe pickle: global 'os.system'")

# --- 5. safetensors -----------------------------------------------------------------------------

def st(name, header, body=b"", exit_code=3, message="", raw_header=None):
    text = raw_header if raw_header is not None else json.dumps(header).encode()
    path = out(name + ".safetensors")
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + body)
    case(name, path, exit_code, message)


F32 = lambda shape, a, b: {"dtype": "F32", "shape": shape, "data_offsets": [a, b]}
with open(out("st_header_length_huge.safetensors"), "wb") as f:
    f.write(struct.pack("<Q", 2**63) + b"{}")
case("st_header_length_huge", out("st_header_length_huge.safetensors"), 3, "exceeds 100000000")
st("st_not_json", None, raw_header=b"{not json", message="safetensors header")
st("st_header_is_array", None, raw_header=b"[1,2]", message="not a checkpoint")
st("st_duplicate_tensor", None, raw_header=b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
                                          b'"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}',
   body=b"\x00" * 8, message="tensor 'a' appears twice")
st("st_negative_shape", {"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, b"\x00" * 4,
   message="negative number")
st("st_shape_product_overflow", {"a": F32([2**32, 2**32, 2], 0, 8)}, b"\x00" * 8, message="size overflows 64 bits")
st("st_bytes_overflow", {"a": F32([2**62 + 1], 0, 8)}, b"\x00" * 8, message="size overflows 64 bits")
st("st_offsets_reversed", {"a": F32([1], 4, 0)}, b"\x00" * 4, message="outside the 4-byte buffer")
st("st_offsets_past_end", {"a": F32([1], 0, 2**64 - 1)}, b"\x00" * 4, message="outside the 4-byte buffer")
st("st_hole", {"a": F32([1], 4, 8)}, b"\x00" * 8, message="leave a hole before it")
st("st_overlap", {"a": F32([2], 0, 8), "b": F32([1], 4, 8)}, b"\x00" * 8, message="overlap the previous tensor")
st("st_unknown_dtype", {"a": {"dtype": "Q99", "shape": [1], "data_offsets": [0, 4]}}, b"\x00" * 4,
   message="unsupported dtype Q99")
st("st_metadata_not_string", {"__metadata__": {"format": 1}, "a": F32([1], 0, 4)}, b"\x00" * 4,
   message="__metadata__ value of 'format' is not a string")
st("st_nested_object", {"a": {"dtype": "F32", "shape": [{"x": 1}], "data_offsets": [0, 4]}}, b"\x00" * 4,
   message="unexpected object")
st("st_missing_fields", {"a": {"dtype": "F32"}}, message="needs dtype, shape and data_offsets")
st("st_uncovered_tail", {"a": F32([1], 0, 4)}, b"\x00" * 12, message="8 bytes not covered by any tensor")
st("st_float_offsets", None, raw_header=b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0.5,4]}}',
   body=b"\x00" * 4, message="a fractional number (0.5) where an integer belongs")

# The strict JSON reader under the header: escapes decoded before the duplicate check, UTF-8 checked,
# integers past 64 bits and deep nesting refused without recursion.
st("st_duplicate_by_escape", None, raw_header=b'{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},'
                                             b'"\\u0061":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}',
   body=b"\x00" * 2, message="tensor 'a' appears twice")
st("st_name_invalid_utf8", None, raw_header=b'{"\xc0\x80":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}',
   body=b"\x00", message="invalid UTF-8 in a string")
st("st_name_lone_surrogate", None, raw_header=b'{"\\ud800":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}',
   body=b"\x00", message="high surrogate without its low half")
st("st_offset_past_64_bits", None,
   raw_header=b'{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,18446744073709551616]}}', body=b"\x00",
   message="exceeds 64 bits")
st("st_deep_nesting_in_field", None,
   raw_header=b'{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":' + b"[" * 100000 + b"]" * 100000 + b"}}",
   body=b"\x00", message="unexpected array in field 'x'")

# --- 6. sharded folders -------------------------------------------------------------------------

def good_shard(path, name="a"):
    text = json.dumps({name: F32([1], 0, 4)}).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"\x00" * 4)


def sharded(name, weight_map, shards=("model-00001-of-00001.safetensors",), message="", raw=None):
    folder = out(name)
    os.makedirs(folder, exist_ok=True)
    for s in shards:
        good_shard(os.path.join(folder, s))
    with open(os.path.join(folder, "model.safetensors.index.json"), "wb") as f:
        f.write(raw if raw is not None else json.dumps({"metadata": {}, "weight_map": weight_map}).encode())
    case(name, folder, 3, message)


sharded("sharded_index_names_itself", {"a": "model.safetensors.index.json"}, message="names the index itself")
sharded("sharded_parent_folder", {"a": "../model-00001-of-00001.safetensors"}, message="not a file name inside")
sharded("sharded_absolute_path", {"a": "/etc/passwd"}, message="not a file name inside")
sharded("sharded_empty_name", {"a": ""}, message="not a file name inside")
sharded("sharded_dotdot", {"a": ".."}, message="not a file name inside")
sharded("sharded_shard_is_an_index", {"a": "other.index.json"}, shards=(), message="")
with open(os.path.join(out("sharded_shard_is_an_index"), "other.index.json"), "w") as f:
    json.dump({"weight_map": {"a": "model.safetensors.index.json"}}, f)
CASES[-1]["message"] = "not a checkpoint"
CASES[-1]["input"] = os.path.join(CASES[-1]["input"], "model.safetensors.index.json")
sharded("sharded_weight_map_not_object", None, raw=b'{"weight_map": [1, 2]}', message="is not an object")
sharded("sharded_value_not_string", None, raw=b'{"weight_map": {"a": 5}}', message="is a number, not a file name")
sharded("sharded_index_not_json", None, raw=b'{"weight_map": {', message="not a sharded-checkpoint index")
sharded("sharded_deep_nesting_unterminated", None, raw=b'{"metadata": ' + b"[" * 200000 + b'], "weight_map": {}}',
        message="not a sharded-checkpoint index")
sharded("sharded_missing_tensor", {"a": "model-00001-of-00001.safetensors", "b": "model-00001-of-00001.safetensors"},
        message="tensor 'b' is mapped to shard")

# --- 7. DeepSpeed folders -----------------------------------------------------------------------

def deepspeed(name, tag, files=(), message=""):
    folder = out(name)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "latest"), "wb") as f:
        f.write(tag)
    for rel in files:
        os.makedirs(os.path.dirname(os.path.join(folder, rel)), exist_ok=True)
        write_zip(os.path.join(folder, rel), one_tensor())
    case(name, folder, 3, message)


deepspeed("deepspeed_latest_parent", b"../outside", message="expected the tag of a DeepSpeed checkpoint")
deepspeed("deepspeed_latest_absolute", b"/etc", message="expected the tag of a DeepSpeed checkpoint")
deepspeed("deepspeed_latest_empty", b"", message="expected the tag of a DeepSpeed checkpoint")
deepspeed("deepspeed_latest_nul", b"glob\x00al", message="expected the tag of a DeepSpeed checkpoint")
deepspeed("deepspeed_latest_huge", b"x" * 10000, message="too large to be a DeepSpeed tag file")
deepspeed("deepspeed_tag_missing", b"global_step9", message="is not a folder")
deepspeed("deepspeed_model_parallel_gap", b"global_step1", files=("global_step1/mp_rank_00_model_states.pt",
                                                                 "global_step1/mp_rank_02_model_states.pt"),
          message="holds no mp_rank_*_model_states.pt file for model-parallel rank 1")
deepspeed("deepspeed_unsafe_model_states", b"global_step1", message="unsafe pickle")
os.makedirs(os.path.join(out("deepspeed_unsafe_model_states"), "global_step1"), exist_ok=True)
write_zip(os.path.join(out("deepspeed_unsafe_model_states"), "global_step1", "mp_rank_00_model_states.pt"),
          state_dict(S("x") + call(G("os", "system"), S("id"))))

# --- 8. special files (made by the runner) ------------------------------------------------------

case("fifo_as_input", None, 3, "is a FIFO; only regular files are read", special="fifo_input")
case("fifo_as_shard_index", None, 3, "is a FIFO", special="fifo_index")
case("fifo_as_shard", None, 3, "is a FIFO", special="fifo_shard")
case("fifo_as_latest", None, 3, "is a FIFO", special="fifo_latest")
case("device_as_input", None, 3, "is a device", special="device_input")
case("socket_as_input", None, 3, "is a socket", special="socket_input")


def main():
    names = [c["name"] for c in CASES]
    assert len(names) == len(set(names)), "case names must be unique"
    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump(CASES, f, indent=1)
        f.write("\n")
    print(f"{len(CASES)} hostile cases in {OUT}")


if __name__ == "__main__":
    main()
