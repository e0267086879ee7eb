#include "core/index/CheckpointIndex.hpp"
#include "core/io/PickleReader.hpp"
#include "core/util/Error.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>

namespace ckptconv::core {
namespace {

using namespace std::string_literals;

PyRef read(const std::string& bytes, PickleReader::PersistentLoader loader = nullptr) {
    return PickleReader("test.pkl", "data.pkl", std::move(loader)).read(bytes);
}

std::string error_of(const std::string& bytes) {
    try {
        read(bytes);
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ExitCode::BadInput);
        return e.what();
    }
    return "";
}

TEST(PickleReader, Protocol2Scalars) {
    // (1, 300, -2, 2**40, 1.5, True, None, 'hé')
    const std::string p =
        "\x80\x02(K\x01M\x2c\x01J\xfe\xff\xff\xff\x8a\x06\x00\x00\x00\x00\x00\x01G?\xf8\x00\x00\x00\x00\x00\x00\x88NX\x03\x00\x00\x00h\xc3\xa9t."s;
    const PyRef t = read(p);
    ASSERT_EQ(t->kind, PyKind::Tuple);
    ASSERT_EQ(t->items.size(), 8u);
    EXPECT_EQ(t->items[0]->integer, 1);
    EXPECT_EQ(t->items[1]->integer, 300);
    EXPECT_EQ(t->items[2]->integer, -2);
    EXPECT_EQ(t->items[3]->integer, int64_t{1} << 40);
    EXPECT_DOUBLE_EQ(t->items[4]->real, 1.5);
    EXPECT_TRUE(t->items[5]->boolean);
    EXPECT_EQ(t->items[6]->kind, PyKind::None);
    EXPECT_EQ(t->items[7]->text, "h\xc3\xa9");
}

TEST(PickleReader, Long1NegativeAndBig) {
    EXPECT_EQ(read("\x80\x02\x8a\x01\xff."s)->integer, -1);
    EXPECT_EQ(read("\x80\x02\x8a\x05\x00\x00\x00\x80\x00."s)->integer, int64_t{1} << 31);
    const PyRef big = read("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19."s);
    EXPECT_EQ(big->kind, PyKind::BigInt);
    EXPECT_EQ(big->text.size(), 10u);
}

TEST(PickleReader, MemoSharesObjects) {
    // l = []; (l, l) via BINPUT/BINGET
    const PyRef t = read("\x80\x02]q\x00h\x00\x86."s);
    ASSERT_EQ(t->items.size(), 2u);
    EXPECT_EQ(t->items[0].get(), t->items[1].get());
}

TEST(PickleReader, OrderedDictWithMetadataBuild) {
    // OrderedDict([('a', 1)]) with state {'_metadata': {}} applied by BUILD after SETITEMS.
    const std::string p = "\x80\x02"
                          "ccollections\nOrderedDict\nq\x00)R(X\x01\x00\x00\x00"
                          "aK\x01u}X\x09\x00\x00\x00_metadata}sb."s;
    const PyRef d = read(p);
    ASSERT_EQ(d->kind, PyKind::Dict);
    EXPECT_TRUE(d->ordered);
    ASSERT_EQ(d->entries.size(), 1u);
    EXPECT_EQ(d->entries[0].first->text, "a");
    ASSERT_TRUE(d->state);
    EXPECT_EQ(d->state->entries[0].first->text, "_metadata");
}

TEST(PickleReader, DuplicateKeyOverwritesLikePython) {
    const PyRef d = read("\x80\x02}(X\x01\x00\x00\x00"
                         "aK\x01X\x01\x00\x00\x00"
                         "aK\x02u."s);
    ASSERT_EQ(d->entries.size(), 1u);
    EXPECT_EQ(d->entries[0].second->integer, 2);
}

TEST(PickleReader, UnknownClassStaysInert) {
    // argparse.Namespace(lr=0.1) as protocol 2 writes it: NEWOBJ then BUILD.
    const std::string p = "\x80\x02"
                          "cargparse\nNamespace\nq\x00)\x81}X\x02\x00\x00\x00lrG?\xb9\x99\x99\x99\x99\x99\x9asb."s;
    const PyRef o = read(p);
    ASSERT_EQ(o->kind, PyKind::Object);
    EXPECT_EQ(type_name(*o), "argparse.Namespace");
    EXPECT_TRUE(o->via_newobj);
    ASSERT_TRUE(o->state);
    EXPECT_DOUBLE_EQ(o->state->entries[0].second->real, 0.1);
}

TEST(PickleReader, Protocol4Opcodes) {
    // PROTO 4, FRAME, SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL of a harmless class, EMPTY_TUPLE, REDUCE, STOP.
    const std::string body = "\x8c\x08"
                             "argparse\x94\x8c\x09Namespace\x94\x93\x94)R."s;
    std::string p = "\x80\x04\x95"s + std::string(1, static_cast<char>(body.size())) + std::string(7, '\0') + body;
    const PyRef o = read(p);
    EXPECT_EQ(type_name(*o), "argparse.Namespace");
}

TEST(PickleReader, TensorFromRebuildV2) {
    // _rebuild_tensor_v2(('storage', FloatStorage, '0', 'cpu', 6), 2, (2, 2), (2, 1), False, OrderedDict())
    const std::string p = "\x80\x02"
                          "ctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\nFloatStorage\n"
                          "X\x01\x00\x00\x00"
                          "0X\x03\x00\x00\x00"
                          "cpuK\x06tQK\x02K\x02K\x02\x86K\x02K\x01\x86\x89"
                          "ccollections\nOrderedDict\n)RtR."s;
    auto loader = [](const PyObject& pid) {
        auto s = PyObject::make(PyKind::Storage);
        s->storage = std::make_shared<StorageInfo>();
        s->storage->key = pid.items[2]->text;
        s->storage->dtype = DType::F32;
        return s;
    };
    const PyRef t = read(p, loader);
    ASSERT_EQ(t->kind, PyKind::Tensor);
    EXPECT_EQ(t->tensor->storage->key, "0");
    EXPECT_EQ(t->tensor->dtype, DType::F32);
    EXPECT_EQ(t->tensor->storage_offset, 2);
    EXPECT_EQ(t->tensor->shape, (std::vector<int64_t>{2, 2}));
    EXPECT_EQ(t->tensor->stride, (std::vector<int64_t>{2, 1}));
}

TEST(PickleReader, RefusesCodeRunningGlobalsBeforeRunning) {
    EXPECT_NE(error_of("\x80\x02"
                       "cos\nsystem\nX\x02\x00\x00\x00ls\x85R."s)
                  .find("unsafe pickle: global 'os.system' reaches module 'os'"),
              std::string::npos);
    EXPECT_NE(error_of("\x80\x02"
                       "cbuiltins\neval\nX\x01\x00\x00\x00"
                       "1\x85R."s)
                  .find("builtins.eval"),
              std::string::npos);
    EXPECT_NE(error_of("\x80\x04\x8c\x0asubprocess\x8c\x05Popen\x93."s).find("subprocess.Popen"), std::string::npos);
    EXPECT_NE(error_of("\x80\x02"
                       "cposix\nsystem\n."s)
                  .find("posix.system"),
              std::string::npos);
}

TEST(PickleReader, RefusesReExportsDottedNamesAndGadgetChains) {
    // torch.serialization re-exports os; protocol 4 resolves dotted names in GLOBAL.
    EXPECT_NE(error_of("\x80\x02"
                       "ctorch.serialization\nos\n."s)
                  .find("reaches module 'os'"),
              std::string::npos);
    EXPECT_NE(error_of("\x80\x04"
                       "cpathlib\nos.system\n."s)
                  .find("'pathlib.os.system'"),
              std::string::npos);
    // getattr(<global>, '__subclasses__') and calling a getattr result are gadget chains.
    EXPECT_NE(error_of("\x80\x02"
                       "c__builtin__\ngetattr\ncargparse\nNamespace\nX\x0e\x00\x00\x00__subclasses__\x86R."s)
                  .find("builtins.getattr"),
              std::string::npos);
    EXPECT_NE(error_of("\x80\x02"
                       "c__builtin__\ngetattr\ncargparse\nNamespace\nX\x03\x00\x00\x00"
                       "abc\x86R)R."s)
                  .find("calls a computed value"),
              std::string::npos);
}

TEST(PickleReader, GetattrOfAClassMemberIsData) {
    // Python 3.11.2 pickles DeepSpeed's ZeroStageEnum.gradients this way.
    const PyRef v = read("\x80\x02"
                         "c__builtin__\ngetattr\ncdeepspeed.runtime.zero.config\nZeroStageEnum\n"
                         "X\x09\x00\x00\x00gradients\x86R."s);
    ASSERT_EQ(v->kind, PyKind::Object);
    EXPECT_TRUE(v->attribute_lookup);
    EXPECT_EQ(v->args->items[1]->text, "gradients");
}

TEST(PickleReader, DropUnsafeReplacesThePartAndSaysWhere) {
    PickleReader reader("f.pt", "archive/data.pkl", nullptr, true);
    const std::string p = "\x80\x02}(X\x01\x00\x00\x00"
                          "acos\nsystem\nX\x02\x00\x00\x00ls\x85RX\x01\x00\x00\x00"
                          "bK\x01u."s;
    const PyRef d = reader.read(p);
    ASSERT_EQ(d->kind, PyKind::Dict);
    ASSERT_EQ(d->entries.size(), 2u);
    EXPECT_TRUE(d->entries[0].second->unsafe);
    ASSERT_EQ(reader.dropped().size(), 1u);
    EXPECT_NE(reader.dropped()[0].find("os.system"), std::string::npos);
    EXPECT_NE(reader.dropped()[0].find("archive/data.pkl at byte"), std::string::npos);
}

TEST(PickleReader, CapsStackMarksAndObjects) {
    EXPECT_NE(error_of("\x80\x02" + std::string(70000, '(') + "."s).find("open MARKs"), std::string::npos);
    EXPECT_NE(error_of("\x80\x02" + std::string(300'000, 'N') + "."s).find("stack deeper than 262144"),
              std::string::npos);
    // A million empty lists appended to one: more objects than a 2 MB pickle may make.
    std::string flood = "\x80\x02]";
    for (int i = 0; i < 1'000'000; ++i) flood += "]a";
    EXPECT_NE(error_of(flood + "."s).find("objects for a"), std::string::npos);
}

TEST(PickleReader, DeepNestingNeedsNoStack) {
    // 60000 nested _rebuild_from_type_v2 wrappers (MARKs are capped at 65536) around OrderedDict().
    const std::string wrapper = "ctorch._tensor\n_rebuild_from_type_v2\n";
    std::string p = "\x80\x02" + wrapper + "q\x00"s;
    for (int i = 0; i < 60000; ++i) p += "(h\x00N"s;
    p += "(ccollections\nOrderedDict\nN)Nt";
    for (int i = 0; i < 60000; ++i) p += "Nt";
    p += "R.";
    const PyRef d = read(p);
    EXPECT_EQ(d->kind, PyKind::Dict);
    // 250000 nested tuples (within the object budget) are built, refused as too deep, and freed
    // without recursion.
    EXPECT_NE(error_of("\x80\x02N" + std::string(250000, '\x85') + "."s).find("nested deeper than 200"),
              std::string::npos);
}

TEST(PickleReader, MalformedInputsAreBadInput) {
    EXPECT_NE(error_of("\x80\x02K"s).find("truncated"), std::string::npos);
    EXPECT_NE(error_of("\x80\x02X\xff\xff\xff\x7f"s).find("truncated"), std::string::npos);
    EXPECT_NE(error_of("\x80\x02."s).find("stack underflow"), std::string::npos);
    EXPECT_NE(error_of("\x80\x02h\x05."s).find("memo key 5"), std::string::npos);
    EXPECT_NE(error_of("\x80\x02\xff."s).find("unknown pickle opcode 0xff"), std::string::npos);
    EXPECT_NE(error_of("\x80\x02K\x01K\x02u."s).find("MARK expected"), std::string::npos);
    EXPECT_NE(error_of("\x80\x02K\x01"s).find("no STOP"), std::string::npos);
    EXPECT_NE(error_of("\x80\x02\x82\x01."s).find("EXT1"), std::string::npos);
    EXPECT_NE(error_of("\x80\x02(K\x01K\x02Q."s).find("storages"), std::string::npos);
}

TEST(PickleReader, ReportsConsumedBytesForBackToBackPickles) {
    const std::string two = "\x80\x02K\x07.\x80\x02K\x08."s;
    size_t used = 0;
    PickleReader r("f", "r", nullptr);
    EXPECT_EQ(r.read(two, &used)->integer, 7);
    EXPECT_EQ(used, 5u);
    EXPECT_EQ(r.read(std::string_view(two).substr(used))->integer, 8);
}

} // namespace
} // namespace ckptconv::core

namespace ckptconv::core {
namespace {
using namespace std::string_literals;

// Regressions from fuzzing: cyclic object graphs (a memo lets a list contain itself) leaked, and
// very deep nesting must not exhaust the stack. Both are refused now, and what the VM made is freed.
TEST(PickleReaderRegressions, CyclesAndDeepNestingAreRefusedAndFreed) {
    // l = []; l.append(l)  ->  EMPTY_LIST BINPUT 0 BINGET 0 APPEND STOP
    EXPECT_NE(error_of("\x80\x02]q\x00h\x00"
                       "a."s)
                  .find("object tree holds a cycle: a list that contains itself"),
              std::string::npos);
    std::string deep = "\x80\x02";
    for (int i = 0; i < 200000; ++i) deep += "]";
    for (int i = 0; i < 199999; ++i) deep += "a";
    deep += ".";
    EXPECT_NE(error_of(deep).find("nested deeper than 200 levels"), std::string::npos);
}

TEST(PickleReaderRegressions, FuzzFindingsReadOrRefuseCleanly) {
    const std::string dir = std::string(CKPTCONV_SOURCE_DIR) + "/tests/corpus/_fuzz/";
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
        if (entry.path().extension() != ".pkl") continue;
        const std::string name = entry.path().filename().string();
        std::ifstream f(entry.path(), std::ios::binary);
        const std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
        ASSERT_FALSE(bytes.empty()) << name;
        try {
            PickleReader(name, "data.pkl", nullptr).read(bytes);
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), ExitCode::BadInput) << name;
        }
    }
}

TEST(PickleReaderRegressions, CycleWithoutMemoThenErrorIsRefused) {
    // {} DUP DUP SETITEM makes d[d] = d without the memo; the later underflow must still free it.
    try {
        PickleReader("t", "t", nullptr)
            .read("}\x80\x02"
                  "22s}s"s);
        FAIL() << "accepted";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("stack underflow"), std::string::npos) << e.what();
    }
}

} // namespace
} // namespace ckptconv::core
