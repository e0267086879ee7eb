#include "core/host/Config.hpp"
#include "core/util/Error.hpp"
#include "tests/support/TestSupport.hpp"

#include <gtest/gtest.h>

#include <fstream>

namespace ckptconv::core {
namespace {

std::filesystem::path write(const test::TempDir& dir, const std::string& text) {
    const auto p = dir / "config.yaml";
    std::ofstream(p) << text;
    return p;
}

std::string error_of(const std::filesystem::path& p) {
    try {
        load_config(p);
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ExitCode::Usage);
        return e.what();
    }
    return "";
}

TEST(Config, ReadsEveryKey) {
    test::TempDir dir;
    const auto p = write(dir, "plugin_paths: [extra, /abs/plugins]\n"
                              "plugins: {cogvideox_sat: \">=1.1, <2\", clip_vision: 1.0.0}\n"
                              "disabled: [t2m_cut]\n"
                              "priority: [xlmr_hf]\n"
                              "plugin: cogvideox_sat@1.0.0\n"
                              "format_version: \"1.5\"\n"
                              "options: {variant: 5b, vocab_size: 250001}\n"
                              "output: {to: diffusers, dtype: bf16, shard_size: 5GB, cached_writes: true}\n");
    const Config c = load_config(p);
    ASSERT_EQ(c.plugin_paths.size(), 2u);
    EXPECT_EQ(c.plugin_paths[0], dir.path() / "extra");
    EXPECT_EQ(c.plugin_paths[1], std::filesystem::path("/abs/plugins"));
    EXPECT_EQ(c.selection.pins.at("cogvideox_sat"), ">=1.1, <2");
    EXPECT_EQ(c.selection.pins.at("clip_vision"), "1.0.0");
    EXPECT_EQ(c.selection.disabled.count("t2m_cut"), 1u);
    EXPECT_EQ(c.priority, std::vector<std::string>{"xlmr_hf"});
    EXPECT_EQ(*c.plugin, "cogvideox_sat@1.0.0");
    EXPECT_EQ(*c.format_version, "1.5");
    EXPECT_EQ(c.options.size(), 2u);
    EXPECT_EQ(c.options[1].second, "250001");
    EXPECT_EQ(*c.output_format, "diffusers");
    EXPECT_EQ(*c.output_dtype, "bf16");
    EXPECT_EQ(*c.shard_size, "5GB");
    EXPECT_EQ(c.cached_writes, std::optional<bool>(true));
    EXPECT_FALSE(load_config(write(dir, "output: {to: hf}\n")).cached_writes.has_value());
}

TEST(Config, RulesSection) {
    test::TempDir dir;
    const Config c = load_config(write(
        dir, "rules:\n"
             "  roots: [module]\n"
             "  drop: [{prefix: conditioner., reason: T5 weights}, {prefix: loss.}]\n"
             "  rename: [{prefix: model., to: ''}, {replace: attention, to: attn}, {regex: '^l(\\d+)', to: 'b$1'}]\n"
             "  output_root: ''\n"));
    ASSERT_TRUE(c.rules);
    EXPECT_EQ(c.rules->roots, std::vector<std::string>{"module"});
    ASSERT_EQ(c.rules->drops.size(), 2u);
    EXPECT_EQ(c.rules->drops[0].reason, "T5 weights");
    EXPECT_EQ(c.rules->drops[1].reason, "dropped by rule: prefix 'loss.'");
    ASSERT_EQ(c.rules->renames.size(), 3u);
    EXPECT_EQ(c.rules->renames[2].kind, RuleSet::Rename::Kind::Regex);
    EXPECT_EQ(*c.rules->output_root, "");
}

TEST(Config, BadRulesAreNamed) {
    test::TempDir dir;
    EXPECT_NE(error_of(write(dir, "rules:\n  rename: [{regex: '(', to: x}]\n"))
                  .find("key 'rules.rename.regex': invalid regular"),
              std::string::npos);
    EXPECT_NE(error_of(write(dir, "rules:\n  rename: [{prefix: a}]\n")).find("needs prefix|replace|regex and to"),
              std::string::npos);
    EXPECT_NE(error_of(write(dir, "rules:\n  rename: [{prefix: a, replace: b, to: c}]\n")).find("one of prefix"),
              std::string::npos);
    EXPECT_NE(error_of(write(dir, "rules:\n  keep: [x]\n")).find("key 'rules.keep': unknown key"), std::string::npos);
}

TEST(Config, EmptyFileIsAnEmptyConfig) {
    test::TempDir dir;
    EXPECT_TRUE(load_config(write(dir, "")).plugin_paths.empty());
}

TEST(Config, UnknownKeyNamesFileLineAndKey) {
    test::TempDir dir;
    const auto p = write(dir, "plugins: {}\nplugn_paths: [x]\n");
    const std::string e = error_of(p);
    EXPECT_NE(e.find(p.string() + ":2:1: key 'plugn_paths'"), std::string::npos) << e;
}

TEST(Config, BadPinNamesTheKey) {
    test::TempDir dir;
    const std::string e = error_of(write(dir, "plugins:\n  cogvideox_sat: newest\n"));
    EXPECT_NE(e.find(":2:18: key 'plugins.cogvideox_sat'"), std::string::npos) << e;
    EXPECT_NE(e.find("newest"), std::string::npos) << e;
}

TEST(Config, WrongTypesAndValues) {
    test::TempDir dir;
    EXPECT_NE(error_of(write(dir, "options: [a, b]\n")).find("key 'options': expected a mapping"), std::string::npos);
    EXPECT_NE(error_of(write(dir, "output: {to: onnx}\n")).find("key 'output.to'"), std::string::npos);
    EXPECT_NE(error_of(write(dir, "output: {dtype: fp8}\n")).find("key 'output.dtype'"), std::string::npos);
    EXPECT_NE(error_of(write(dir, "output: {cached_writes: yes}\n")).find("key 'output.cached_writes'"),
              std::string::npos);
    EXPECT_NE(error_of(write(dir, "format_version: [1]\n")).find("expected a text value"), std::string::npos);
}

TEST(Config, InvalidYamlHasALine) {
    test::TempDir dir;
    const std::string e = error_of(write(dir, "plugins: {a: 1\nb: [\n"));
    EXPECT_NE(e.find("invalid YAML"), std::string::npos) << e;
}

TEST(Config, MissingFile) {
    const std::string e = error_of("/nonexistent/ckptconv.yaml");
    EXPECT_NE(e.find("/nonexistent/ckptconv.yaml: cannot read"), std::string::npos) << e;
}

} // namespace
} // namespace ckptconv::core
