#include "core/io/ConfigProvenance.hpp"

#include <gtest/gtest.h>

namespace ckptconv::core {
namespace {

const std::map<std::string, std::string> kProvenance{{"ckptconv.plugin", "p@1"}, {"ckptconv.sources", "[\"x\"]"}};

TEST(ConfigProvenance, GoesInItsSortedPlaceInPythonsLayout) {
    // What json.dumps({"_class_name": "A", "_ckptconv": {...}, "act_fn": "silu"}, indent=2, sort_keys=True) gives.
    EXPECT_EQ(with_config_provenance("{\n  \"_class_name\": \"A\",\n  \"act_fn\": \"silu\"\n}\n", kProvenance),
              "{\n  \"_ckptconv\": {\n    \"ckptconv.plugin\": \"p@1\",\n    \"ckptconv.sources\": \"[\\\"x\\\"]\"\n"
              "  },\n  \"_class_name\": \"A\",\n  \"act_fn\": \"silu\"\n}\n");
    // Last member: the one before it gains the comma.
    EXPECT_EQ(with_config_provenance("{\n  \"A\": [\n    1\n  ]\n}\n", {{"k", "v"}}),
              "{\n  \"A\": [\n    1\n  ],\n  \"_ckptconv\": {\n    \"k\": \"v\"\n  }\n}\n");
}

TEST(ConfigProvenance, LeavesOtherLayoutsAndStampedConfigsAlone) {
    EXPECT_EQ(with_config_provenance("{\"a\": 1}", kProvenance), "{\"a\": 1}");
    EXPECT_EQ(with_config_provenance("{}\n", kProvenance), "{}\n");
    const std::string once = with_config_provenance("{\n  \"a\": 1\n}\n", kProvenance);
    EXPECT_EQ(with_config_provenance(once, kProvenance), once);
    EXPECT_EQ(with_config_provenance("{\n  \"a\": 1\n}\n", {}), "{\n  \"a\": 1\n}\n");
}

TEST(ConfigProvenance, SplitGivesBackWhatThePluginWrote) {
    for (const std::string config : {"{\n  \"_class_name\": \"A\",\n  \"act_fn\": \"silu\"\n}\n",
                                     "{\n  \"A\": [\n    1\n  ]\n}\n", "{\n  \"a\": 1\n}\n"}) {
        const std::string stamped = with_config_provenance(config, kProvenance);
        const ConfigStamp split = split_config_provenance(stamped);
        EXPECT_EQ(split.config, config);
        EXPECT_EQ(split.stamp.rfind("  \"_ckptconv\": {\n    \"ckptconv.plugin\": \"p@1\"", 0), 0u) << split.stamp;
    }
    EXPECT_EQ(split_config_provenance("{\n  \"a\": 1\n}\n").stamp, "");
}

TEST(ConfigProvenance, StringsAsPythonEscapesThem) {
    EXPECT_EQ(python_json_string("a\"b\\c\n\x01"), "\"a\\\"b\\\\c\\n\\u0001\"");
    EXPECT_EQ(python_json_string("gr\xc3\xb6\xc3\x9f"
                                 "e \xf0\x9f\x98\x80"),
              "\"gr\\u00f6\\u00dfe \\ud83d\\ude00\"");
    EXPECT_EQ(python_json_string("\x7f"), "\"\\u007f\"");
}

} // namespace
} // namespace ckptconv::core
