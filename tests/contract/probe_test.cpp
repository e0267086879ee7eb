// Probe contract: no built-in plugin claims random or empty indexes (FFmpeg's probetest idea).
#include "core/host/Detector.hpp"
#include "core/host/PluginRegistry.hpp"
#include "tests/support/TestSupport.hpp"

#include <gtest/gtest.h>

#include <random>

namespace ckptconv::core {
namespace {

class BuiltinPlugins : public ::testing::Test {
  protected:
    void SetUp() override {
        registry.load_directory(CKPTCONV_BUILTIN_PLUGIN_DIR);
        plugins = registry.select({});
        ASSERT_FALSE(plugins.empty()) << "no built-in plugin in " << CKPTCONV_BUILTIN_PLUGIN_DIR;
    }
    void expect_weak(const CheckpointIndex& index, const std::string& what) {
        const AbiIndex abi(index);
        for (const PluginRecord* p : plugins) {
            const Candidate c = run_detect(*p, abi);
            EXPECT_TRUE(c.error.empty()) << p->label() << " failed on " << what << ": " << c.error;
            EXPECT_LE(c.score, CKPTCONV_SCORE_RETRY) << p->label() << " claims " << what << ": " << c.reason;
        }
    }
    PluginRegistry registry;
    std::vector<const PluginRecord*> plugins;
};

TEST_F(BuiltinPlugins, AllLoad) {
    for (const auto& r : registry.records()) EXPECT_TRUE(r->loaded()) << r->origin << ": " << r->message;
}

TEST_F(BuiltinPlugins, EmptyIndexScoresWeak) { expect_weak(test::index_from_keys("", {}), "an empty index"); }

TEST_F(BuiltinPlugins, RandomIndexesScoreWeak) {
    std::mt19937 rng(1234);
    const std::vector<std::string> words{"weight",  "bias",        "layers",     "0",     "1",     "attention",
                                         "encoder", "decoder",     "proj",       "norm",  "model", "embed",
                                         "mlp",     "transformer", "time_embed", "mixins"};
    for (int round = 0; round < 200; ++round) {
        std::vector<std::pair<std::string, std::vector<int64_t>>> tensors;
        const int n = 1 + static_cast<int>(rng() % 40);
        for (int i = 0; i < n; ++i) {
            std::string key;
            const int parts = 1 + static_cast<int>(rng() % 6);
            for (int p = 0; p < parts; ++p) key += (p ? "." : "") + words[rng() % words.size()];
            std::vector<int64_t> shape;
            for (int d = 0, rank = static_cast<int>(rng() % 5); d < rank; ++d)
                shape.push_back(1 + static_cast<int64_t>(rng() % 64));
            tensors.emplace_back(key + "." + std::to_string(i), shape);
        }
        expect_weak(test::index_from_keys(round % 2 ? "module" : "", tensors), "random index " + std::to_string(round));
    }
}

} // namespace
} // namespace ckptconv::core
