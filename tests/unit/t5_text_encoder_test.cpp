#include "core/convert/T5TextEncoder.hpp"
#include "core/util/Error.hpp"
#include "tests/support/TestSupport.hpp"

#include <gtest/gtest.h>

#include <fstream>

namespace ckptconv::convert {
namespace {

namespace fs = std::filesystem;

const fs::path kMerged = test::corpus("cogvideox_vae/sat_folder_2b/t5-v1_1-xxl");
const fs::path kWholeT5 = test::corpus("cogvideox_vae/sat_folder_1.5/t5-v1_1-xxl");

std::vector<std::string> targets(const T5TextEncoder& t5) {
    std::vector<std::string> names;
    for (const auto& c : t5.copied()) names.push_back(c.target);
    return names;
}

TEST(T5TextEncoder, RecognisesT5FoldersByTheirConfig) {
    EXPECT_TRUE(is_t5_folder(kMerged));
    EXPECT_TRUE(is_t5_folder(kWholeT5));
    EXPECT_FALSE(is_t5_folder(test::corpus("cogvideox_vae/sat_folder_2b/vae")));
}

TEST(T5TextEncoder, AnEncoderInHubSafetensorsIsCopiedUnchanged) {
    const T5TextEncoder t5(kMerged, "keep", {});
    EXPECT_EQ(t5.tokenizer_class(), "T5Tokenizer");
    const auto names = targets(t5);
    for (const char* f :
         {"text_encoder/config.json", "text_encoder/model.safetensors.index.json",
          "text_encoder/model-00001-of-00002.safetensors", "tokenizer/spiece.model", "tokenizer/tokenizer_config.json"})
        EXPECT_NE(std::find(names.begin(), names.end(), f), names.end()) << f;
    EXPECT_TRUE(t5.plan().drops.empty());
    EXPECT_TRUE(t5.plan().files.empty());
}

TEST(T5TextEncoder, AWholeT5IsRewrittenAsItsEncoder) {
    const T5TextEncoder t5(kWholeT5, "keep", {});
    EXPECT_FALSE(t5.plan().drops.empty());
    for (const auto& d : t5.plan().drops) {
        const std::string& key = t5.index().tensors[d.source_tensor].key;
        EXPECT_TRUE(key.rfind("decoder.", 0) == 0 || key == "lm_head.weight" || key == "encoder.embed_tokens.weight")
            << key;
    }
    ASSERT_EQ(t5.plan().files.size(), 1u); // config.json, now naming T5EncoderModel
    EXPECT_NE(t5.plan().files[0].content.find("\"T5EncoderModel\""), std::string::npos);
    const auto names = targets(t5);
    EXPECT_EQ(std::count_if(names.begin(), names.end(), [](const auto& n) { return n.rfind("text_encoder/", 0) == 0; }),
              0);
}

TEST(T5TextEncoder, ACastRewritesTheWeightsOfAnEncoderInHubLayout) {
    const T5TextEncoder t5(kMerged, "fp32", {});
    const auto names = targets(t5);
    EXPECT_EQ(std::find(names.begin(), names.end(), "text_encoder/model-00001-of-00002.safetensors"), names.end());
    EXPECT_NE(std::find(names.begin(), names.end(), "text_encoder/config.json"), names.end()); // nothing dropped
    EXPECT_TRUE(t5.plan().drops.empty());
}

// The merged T5 folder with its config's `"num_layers": 2` set to `layers`: the message of the refusal (exit 3).
std::string refusal_with_layers(const std::string& layers) {
    test::TempDir dir;
    fs::copy(kMerged, dir.path(), fs::copy_options::recursive);
    std::ifstream in(dir / "config.json");
    std::string config((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    in.close();
    config.replace(config.find("\"num_layers\": 2"), 15, "\"num_layers\": " + layers);
    std::ofstream(dir / "config.json", std::ios::trunc) << config;
    try {
        const T5TextEncoder t5(dir.path(), "keep", {});
    } catch (const core::Error& e) {
        EXPECT_EQ(e.code(), core::ExitCode::BadInput);
        return e.what();
    }
    ADD_FAILURE() << "num_layers " << layers << " was accepted";
    return {};
}

TEST(T5TextEncoder, AConfigThatDisagreesWithTheWeightsIsRefusedNamingTheTensor) {
    const std::string message = refusal_with_layers("3"); // a layer the weights lack
    EXPECT_NE(message.find("encoder.block.2."), std::string::npos) << message;
}

TEST(T5TextEncoder, AConfigPromisingMoreLayersThanTheWeightsHoldIsRefusedBeforeTheLayoutIsBuilt) {
    const std::string message = refusal_with_layers("16000000");
    EXPECT_NE(message.find("num_layers 16000000"), std::string::npos) << message;
}

} // namespace
} // namespace ckptconv::convert
