#include "core/io/CheckpointOpener.hpp"
#include "core/io/PickleReader.hpp"
#include "core/io/PickleWriter.hpp"
#include "tests/support/TestSupport.hpp"

#include <gtest/gtest.h>

namespace ckptconv::core {
namespace {

// Structural equality of two trees (storages compared by their new/old identity pattern elsewhere).
void expect_same(const PyObject& a, const PyObject& b, const std::string& path) {
    ASSERT_EQ(a.kind, b.kind) << path;
    EXPECT_EQ(a.integer, b.integer) << path;
    EXPECT_EQ(a.boolean, b.boolean) << path;
    EXPECT_EQ(a.text, b.text) << path;
    EXPECT_EQ(a.name, b.name) << path;
    EXPECT_EQ(a.ordered, b.ordered) << path;
    if (a.kind == PyKind::Float) {
        EXPECT_EQ(a.real, b.real) << path;
    }
    ASSERT_EQ(a.items.size(), b.items.size()) << path;
    for (size_t i = 0; i < a.items.size(); ++i)
        expect_same(*a.items[i], *b.items[i], path + "[" + std::to_string(i) + "]");
    ASSERT_EQ(a.entries.size(), b.entries.size()) << path;
    for (size_t i = 0; i < a.entries.size(); ++i) {
        expect_same(*a.entries[i].first, *b.entries[i].first, path + ".key");
        expect_same(*a.entries[i].second, *b.entries[i].second, path + "." + a.entries[i].first->text);
    }
    ASSERT_EQ(!!a.state, !!b.state) << path;
    if (a.state) expect_same(*a.state, *b.state, path + ".__state__");
    ASSERT_EQ(!!a.callable, !!b.callable) << path;
    if (a.callable) expect_same(*a.callable, *b.callable, path + ".__callable__");
    if (a.kind == PyKind::Tensor) {
        EXPECT_EQ(a.tensor->dtype, b.tensor->dtype) << path;
        EXPECT_EQ(a.tensor->shape, b.tensor->shape) << path;
        EXPECT_EQ(a.tensor->stride, b.tensor->stride) << path;
        EXPECT_EQ(a.tensor->storage_offset, b.tensor->storage_offset) << path;
        EXPECT_EQ(a.tensor->is_parameter, b.tensor->is_parameter) << path;
        EXPECT_EQ(a.tensor->requires_grad, b.tensor->requires_grad) << path;
    }
}

class PickleRoundTrip : public ::testing::TestWithParam<const char*> {};

TEST_P(PickleRoundTrip, WriteThenReadGivesTheSameTree) {
    const CheckpointIndex index = open_checkpoint(test::corpus(GetParam()));
    PickleWriter writer;
    const std::string bytes = writer.write(*index.tree);
    std::map<std::string, std::shared_ptr<StorageInfo>> by_key;
    PickleReader reader("roundtrip", "data.pkl", [&](const PyObject& pid) {
        auto node = PyObject::make(PyKind::Storage);
        const std::string key = pid.items[2]->text;
        auto& s = by_key[key];
        if (!s) s = writer.storages().at(std::stoul(key));
        node->storage = s;
        return node;
    });
    const PyRef again = reader.read(bytes);
    expect_same(*index.tree, *again, "");
    // Storage sharing survives: as many storages written as the input had.
    EXPECT_EQ(writer.storages().size(), index.storages.size());
}

INSTANTIATE_TEST_SUITE_P(Corpus, PickleRoundTrip,
                         ::testing::Values("torch/zip_ordereddict.pt", "torch/legacy_ordereddict.pt",
                                           "torch/fairseq_like.pt", "torch/nested_roots.pt", "torch/tied.pt",
                                           "torch/parameters.pt", "torch/protocol4.pt"));

TEST(PickleWriter, IntegersUseTheShortestOpcode) {
    PickleWriter w;
    auto tuple = PyObject::make(PyKind::Tuple);
    for (int64_t v : {int64_t{5}, int64_t{300}, int64_t{-2}, int64_t{1} << 31, -(int64_t{1} << 40), INT64_MIN})
        tuple->items.push_back(PyObject::make_int(v));
    const std::string bytes = w.write(*tuple);
    const PyRef back = PickleReader("t", "t", nullptr).read(bytes);
    ASSERT_EQ(back->items.size(), 6u);
    EXPECT_EQ(back->items[3]->integer, int64_t{1} << 31);
    EXPECT_EQ(back->items[4]->integer, -(int64_t{1} << 40));
    EXPECT_EQ(back->items[5]->integer, INT64_MIN);
    EXPECT_NE(bytes.find("\x8a\x05\x00\x00\x00\x80\x00", 0, 7), std::string::npos); // LONG1 of 2**31: 5 bytes
}

TEST(PickleWriter, BytesBecomeCodecsEncodeUnderProtocol2) {
    auto b = PyObject::make(PyKind::Bytes);
    b->text = std::string("\x00\xff"
                          "a",
                          3);
    const std::string bytes = PickleWriter().write(*b);
    EXPECT_NE(bytes.find("c_codecs\nencode\n"), std::string::npos);
    EXPECT_NE(bytes.find("\x00\xc3\xbf"
                         "a",
                         0, 4),
              std::string::npos);
}

} // namespace
} // namespace ckptconv::core
