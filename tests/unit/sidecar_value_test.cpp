#include "core/convert/SidecarValue.hpp"
#include "core/util/Error.hpp"
#include "tests/support/TestSupport.hpp"

#include <gtest/gtest.h>

#include <fstream>

namespace ckptconv::convert {
namespace {
namespace fs = std::filesystem;

void write(const fs::path& file, const std::string& text) {
    fs::create_directories(file.parent_path());
    std::ofstream(file) << text;
}

const core::SidecarRequest kAlpha{"run.yaml", "model.lora.alpha", "source.lora_alpha", 1};

TEST(SidecarValue, TheScalarAtThePathBesideTheInputOrAFolderUp) {
    test::TempDir dir;
    const fs::path save = dir / "run" / "500" / "mp_rank_00_model_states.pt";
    EXPECT_FALSE(read_sidecar(save, kAlpha)) << "no file";
    write(dir / "run" / "run.yaml", "model:\n  lora:\n    alpha: 8\n    rank: 4\n");
    auto v = read_sidecar(save, kAlpha);
    ASSERT_TRUE(v);
    EXPECT_EQ(v->text, "8");
    EXPECT_EQ(v->file, dir / "run" / "run.yaml");
    write(dir / "run" / "500" / "run.yaml", "model: {lora: {alpha: 2.5}}\n");
    EXPECT_EQ(read_sidecar(save, kAlpha)->text, "2.5") << "the input's own folder first";
    write(dir / "top.yaml", "model: {lora: {alpha: 3}}\n");
    EXPECT_FALSE(read_sidecar(save, {"top.yaml", "model.lora.alpha", "source.a", 1})) << "two folders up: not asked";
    EXPECT_TRUE(read_sidecar(save, {"top.yaml", "model.lora.alpha", "source.a", 2}));
}

TEST(SidecarValue, NoScalarAtThePathGivesNothing) {
    test::TempDir dir;
    const fs::path save = dir / "model.pt";
    for (const char* text : {"model: 5\n", "model: {lora: [1, 2]}\n", "model: {lora: {alpha: {x: 1}}}\n",
                             "model: {other: 1}\n", "- a\n- b\n", ""}) {
        write(dir / "run.yaml", text);
        EXPECT_FALSE(read_sidecar(save, kAlpha)) << text;
    }
}

TEST(SidecarValue, HostileFilesAreRefusedNamingThem) {
    test::TempDir dir;
    const fs::path save = dir / "model.pt";
    auto refusal = [&](const std::string& text) {
        write(dir / "run.yaml", text);
        try {
            read_sidecar(save, kAlpha);
        } catch (const core::Error& e) {
            EXPECT_EQ(e.code(), core::ExitCode::BadInput);
            EXPECT_NE(std::string(e.what()).find("run.yaml"), std::string::npos) << e.what();
            return std::string(e.what());
        }
        ADD_FAILURE() << "accepted: " << text.substr(0, 40);
        return std::string();
    };
    EXPECT_NE(refusal("a: " + std::string(100000, '[')).find("nested deeper than 64 levels"), std::string::npos);
    EXPECT_NE(refusal(std::string(2u << 20, '#')).find("larger than 1 MiB"), std::string::npos);
    EXPECT_NE(refusal("model: {lora: [}\n").find("not readable YAML"), std::string::npos);
}

} // namespace
} // namespace ckptconv::convert
