// The release values both CogVideoX plugins take from a variant name.
#include <cogvideox_family/model_values.hpp>

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace cogvideox_family {
namespace {

struct Request { // the part of sdk::PlanRequest chosen_variant reads
    std::map<std::string, std::string> options;
    std::string option(const std::string& key, std::string fallback = {}) const {
        auto it = options.find(key);
        return it == options.end() ? fallback : it->second;
    }
};

TEST(CogVideoXModelValues, VariantsAndCogVideoXSatNames) {
    EXPECT_STREQ(model_values("2b")->vae_scaling_factor, "1.15258426");
    EXPECT_STREQ(model_values("2b")->snr_shift_scale, "3.0");
    EXPECT_STREQ(model_values("5b")->snr_shift_scale, "1.0");
    EXPECT_FALSE(model_values("5b-i2v")->invert_scale_latents);
    EXPECT_TRUE(model_values("1.5-5b-i2v")->invert_scale_latents);
    EXPECT_STREQ(model_values("1.5-5b")->vae_scaling_factor, "0.7");
    EXPECT_FALSE(model_values("2b")->rotary); // 2B is sin-cos only (cogvideox.md 8)
    EXPECT_TRUE(model_values("5b-i2v")->rotary);
    EXPECT_TRUE(model_values("1.5")->rotary);
    EXPECT_EQ(model_values("custom"), nullptr);
    EXPECT_EQ(model_values(""), nullptr);
}

TEST(CogVideoXModelValues, UserOptionBeatsThePipelineDetection) {
    EXPECT_EQ(chosen_variant(Request{{{"pipeline.cogvideox_sat.variant", "5b-i2v"}}}), "5b-i2v");
    EXPECT_EQ(chosen_variant(Request{{{"pipeline.cogvideox_sat.variant", "custom"}, {"variant", "2b"}}}), "2b");
    EXPECT_EQ(chosen_variant(Request{}), "");
}

} // namespace
} // namespace cogvideox_family
