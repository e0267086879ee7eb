// Torch zip and legacy readers, through the container sniffing entry point.
#include "core/io/CheckpointOpener.hpp"
#include "core/util/Error.hpp"
#include "tests/support/TestSupport.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include <cctype>
#include <cstring>
#include <map>

namespace ckptconv::core {
namespace {

const IndexedTensor& tensor(const CheckpointIndex& index, const std::string& key) {
    for (const auto& t : index.tensors)
        if (t.key == key) return t;
    throw std::runtime_error("no tensor " + key);
}

void expect_all_dtypes_case(const CheckpointIndex& index) {
    ASSERT_EQ(index.roots.size(), 1u);
    EXPECT_EQ(index.roots[0].path, "");
    EXPECT_TRUE(index.roots[0].is_state_dict);
    EXPECT_EQ(index.tensors.size(), 17u);
    const std::map<std::string, DType> dtypes{
        {"f64", DType::F64}, {"f32", DType::F32}, {"f16", DType::F16}, {"bf16", DType::BF16}, {"i64", DType::I64},
        {"i32", DType::I32}, {"i16", DType::I16}, {"i8", DType::I8},   {"u8", DType::U8},     {"bool", DType::Bool}};
    for (const auto& [key, dt] : dtypes) EXPECT_EQ(tensor(index, key).info->dtype, dt) << key;
    const auto& a = tensor(index, "view_a");
    const auto& b = tensor(index, "view_b");
    EXPECT_EQ(a.storage_group, b.storage_group);
    EXPECT_TRUE(a.shares_storage);
    EXPECT_EQ(b.info->storage_offset, 6);
    EXPECT_EQ(b.info->shape, (std::vector<int64_t>{6}));
    EXPECT_EQ(tensor(index, "column").info->stride, (std::vector<int64_t>{4}));
    EXPECT_EQ(tensor(index, "column").info->storage_offset, 1);
    EXPECT_EQ(tensor(index, "transposed").info->stride, (std::vector<int64_t>{1, 3}));
    EXPECT_EQ(tensor(index, "empty").numel(), 0u);
    EXPECT_TRUE(tensor(index, "scalar").info->shape.empty());
    EXPECT_EQ(tensor(index, "größe.ü").info->shape, (std::vector<int64_t>{2}));
    EXPECT_FALSE(tensor(index, "f32").shares_storage);
}

TEST(TorchZip, AllDtypesViewsAndOddShapes) {
    const CheckpointIndex index = open_checkpoint(test::corpus("torch/zip_ordereddict.pt"));
    EXPECT_EQ(index.container, "torch-zip");
    expect_all_dtypes_case(index);
}

TEST(TorchLegacy, SameIndexAsZip) {
    const CheckpointIndex index = open_checkpoint(test::corpus("torch/legacy_ordereddict.pt"));
    EXPECT_EQ(index.container, "torch-legacy");
    expect_all_dtypes_case(index);
}

TEST(TorchZip, PlainDictAndProtocol4) {
    expect_all_dtypes_case(open_checkpoint(test::corpus("torch/plain_dict.pt")));
    expect_all_dtypes_case(open_checkpoint(test::corpus("torch/protocol4.pt")));
}

TEST(TorchZip, StorageOffsetsPointAtTheData) {
    const CheckpointIndex index = open_checkpoint(test::corpus("torch/zip_ordereddict.pt"));
    const auto& t = tensor(index, "i16");
    const uint8_t* p = index.files[0]->data() + t.info->storage->data_offset;
    int16_t values[2];
    std::memcpy(values, p, sizeof values);
    EXPECT_EQ(values[0], -3);
    EXPECT_EQ(values[1], 300);
}

TEST(TorchZip, FairseqExtrasAreKeptInert) {
    for (const char* file : {"torch/fairseq_like.pt", "torch/fairseq_like_legacy.pt"}) {
        const CheckpointIndex index = open_checkpoint(test::corpus(file));
        ASSERT_EQ(index.roots.size(), 1u) << file;
        EXPECT_EQ(index.roots[0].path, "model");
        std::map<std::string, std::string> extras;
        for (const auto& e : index.extras) extras[e.path] = e.type;
        EXPECT_EQ(extras["args"], "argparse.Namespace") << file;
        EXPECT_EQ(extras["extra_state.epoch"], "int") << file;
        EXPECT_EQ(extras["extra_state.best"], "numpy.core.multiarray.scalar") << file;
        EXPECT_EQ(extras["last_optimizer_state"], "None") << file;
    }
}

TEST(TorchZip, NestedRootsTiedAndParameters) {
    const CheckpointIndex nested = open_checkpoint(test::corpus("torch/nested_roots.pt"));
    ASSERT_EQ(nested.roots.size(), 3u);
    EXPECT_EQ(nested.roots[0].path, "model");
    EXPECT_EQ(nested.roots[1].path, "model_ema");
    EXPECT_EQ(nested.roots[2].path, "trainer.state_dict");

    const CheckpointIndex tied = open_checkpoint(test::corpus("torch/tied.pt"));
    EXPECT_EQ(tensor(tied, "embed_tokens.weight").storage_group, tensor(tied, "lm_head.weight").storage_group);
    EXPECT_TRUE(tensor(tied, "lm_head.weight").shares_storage);
    EXPECT_FALSE(tensor(tied, "layer.weight").shares_storage);

    const CheckpointIndex params = open_checkpoint(test::corpus("torch/parameters.pt"));
    EXPECT_TRUE(tensor(params, "w").info->is_parameter);
    EXPECT_TRUE(tensor(params, "w").info->requires_grad);
    EXPECT_FALSE(tensor(params, "b").info->requires_grad);

    const CheckpointIndex bare = open_checkpoint(test::corpus("torch/bare_tensor.pt"));
    ASSERT_EQ(bare.tensors.size(), 1u);
    EXPECT_EQ(bare.tensors[0].key, "tensor");
}

struct NegativeCase {
    const char* file;
    const char* message;
};

class NegativeCorpus : public ::testing::TestWithParam<NegativeCase> {};

TEST_P(NegativeCorpus, RefusedWithExit3NamingFileAndProblem) {
    const auto& c = GetParam();
    const std::string path = test::corpus(std::string("_negative/") + c.file);
    try {
        open_checkpoint(path);
        FAIL() << c.file << " was accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ExitCode::BadInput);
        const std::string what = e.what();
        EXPECT_EQ(what.rfind(path, 0), 0u) << what; // the file itself, or the index file inside the folder
        EXPECT_NE(what.find(c.message), std::string::npos) << what;
    }
}

INSTANTIATE_TEST_SUITE_P(
    Files, NegativeCorpus,
    ::testing::Values(NegativeCase{"empty.pt", "empty file"}, NegativeCase{"random.bin", "not a checkpoint"},
                      NegativeCase{"truncated.pt", "truncated"},
                      NegativeCase{"no_data_pkl.pt", "without <folder>/data.pkl"},
                      NegativeCase{"garbage_pickle.pt", "unknown pickle opcode"},
                      NegativeCase{"short_storage.pt", "holds 100 bytes but its tensors declare 16384"},
                      NegativeCase{"negative_shape.pt", "tensor 'w' size in dimension 0 is negative"},
                      NegativeCase{"overflowing_shape.pt", "tensor 'w' extent overflows 64 bits"},
                      NegativeCase{"os_system.pt", "unsafe pickle: global 'os.system'"},
                      NegativeCase{"header_too_large.safetensors", "larger than the file"},
                      NegativeCase{"overlap.safetensors", "tensor 'b': data_offsets overlap"},
                      NegativeCase{"sharded_missing_shard",
                                   "shard 'model-00002-of-00002.safetensors' named by the weight_map is missing"},
                      NegativeCase{
                          "sharded_unlisted_tensor",
                          "tensor 'stray' in shard 'model-00001-of-00002.safetensors' is not in the weight_map"}),
    [](const auto& param_info) {
        std::string n = param_info.param.file;
        for (auto& ch : n)
            if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
        return n;
    });

TEST(CheckpointOpener, FolderWithManyCheckpointsIsRefusedClearly) {
    try {
        open_checkpoint(test::corpus("torch"));
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ExitCode::BadInput);
        EXPECT_NE(std::string(e.what()).find("holds several checkpoint files and no *.index.json"), std::string::npos)
            << e.what();
    }
}

TEST(Sharded, SafetensorsAndBinShardsMergeInOrder) {
    for (const char* input :
         {"sharded/safetensors", "sharded/safetensors/model.safetensors.index.json", "sharded/bin"}) {
        const CheckpointIndex index = open_checkpoint(test::corpus(input));
        EXPECT_EQ(index.container,
                  std::string(input).find("bin") != std::string::npos ? "torch-sharded" : "safetensors-sharded");
        ASSERT_EQ(index.tensors.size(), 4u) << input;
        EXPECT_EQ(index.tensors[0].key, "embed.weight");
        EXPECT_EQ(index.tensors[1].info->dtype, DType::F16);
        EXPECT_EQ(index.tensors[3].key, "head.bias");
        EXPECT_EQ(index.files.size(), 2u);
        EXPECT_EQ(index.tensors[3].info->storage->file, 1u);
    }
}

TEST(CheckpointOpener, FuzzFindingsReadOrRefuseCleanly) {
    // Every container the fuzzers ever broke us with (tests/corpus/_fuzz/, bare pickles aside).
    size_t checked = 0;
    for (const auto& e :
         std::filesystem::directory_iterator(std::string(CKPTCONV_SOURCE_DIR) + "/tests/corpus/_fuzz")) {
        if (e.path().extension() == ".pkl") continue;
        ++checked;
        try {
            open_checkpoint(e.path().string());
        } catch (const Error& err) {
            EXPECT_EQ(err.code(), ExitCode::BadInput) << e.path();
        }
    }
    EXPECT_GE(checked, 2u);
}

TEST(CheckpointOpener, MissingFile) {
    try {
        open_checkpoint("/nonexistent.pt");
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ExitCode::BadInput);
        EXPECT_NE(std::string(e.what()).find("/nonexistent.pt: cannot open"), std::string::npos);
    }
}

} // namespace
} // namespace ckptconv::core
