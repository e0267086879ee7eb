// Which checkpoint a folder stands for, and when a folder is a pipeline of components.
#include "core/io/CheckpointFolder.hpp"
#include "core/util/Error.hpp"
#include "tests/support/TestSupport.hpp"

#include <gtest/gtest.h>

#include <fstream>

namespace ckptconv::core {
namespace {
namespace fs = std::filesystem;
using test::TempDir;

void touch(const fs::path& file, const std::string& text = "x") {
    fs::create_directories(file.parent_path());
    std::ofstream(file) << text;
}

std::string refusal(const fs::path& folder) {
    try {
        resolve_checkpoint_folder(folder);
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ExitCode::BadInput);
        return e.what();
    }
    ADD_FAILURE() << folder << " was accepted";
    return {};
}

TEST(CheckpointFolder, IndexBeatsSingleFiles) {
    TempDir dir;
    touch(dir / "model.safetensors.index.json");
    touch(dir / "model-00001-of-00002.safetensors");
    EXPECT_EQ(resolve_checkpoint_folder(dir.path()), dir / "model.safetensors.index.json");
}

TEST(CheckpointFolder, DeepSpeedLatestTagNamesTheRankZeroFile) {
    TempDir dir;
    touch(dir / "latest", "1000\n");
    touch(dir / "1000" / "mp_rank_00_model_states.pt");
    touch(dir / "500" / "mp_rank_00_model_states.pt");
    touch(dir / "model_config.json"); // SAT writes it beside `latest`
    EXPECT_EQ(resolve_checkpoint_folder(dir.path()), dir / "1000" / "mp_rank_00_model_states.pt");
}

TEST(CheckpointFolder, DeepSpeedSavesThatCannotBeReadAsOneFileAreRefused) {
    TempDir dir;
    touch(dir / "nowhere" / "latest", "2000");
    EXPECT_NE(refusal(dir / "nowhere").find("names tag '2000'"), std::string::npos);
    touch(dir / "escape" / "latest", "../../etc");
    EXPECT_NE(refusal(dir / "escape").find("expected the tag"), std::string::npos);
    touch(dir / "zero3" / "latest", "7");
    touch(dir / "zero3" / "7" / "z3_rank_00_model_states.pt");
    EXPECT_NE(refusal(dir / "zero3").find("zero_to_fp32.py"), std::string::npos);
    touch(dir / "mp" / "latest", "7");
    touch(dir / "mp" / "7" / "mp_rank_00_model_states.pt");
    touch(dir / "mp" / "7" / "mp_rank_01_model_states.pt");
    EXPECT_NE(refusal(dir / "mp").find("split over 2"), std::string::npos);
    touch(dir / "empty" / "README.md");
    EXPECT_NE(refusal(dir / "empty").find("holds no checkpoint"), std::string::npos);
}

TEST(CheckpointFolder, PipelineFolderListsComponentsAndWhatItSkips) {
    TempDir dir;
    touch(dir / "transformer" / "latest", "1000");
    touch(dir / "transformer" / "1000" / "mp_rank_00_model_states.pt");
    touch(dir / "vae" / "3d-vae.pt");
    touch(dir / "tokenizer" / "spiece.model");
    touch(dir / ".cache" / "x.pt");
    const PipelineFolder p = find_pipeline_components(dir.path());
    ASSERT_EQ(p.components.size(), 2u);
    EXPECT_EQ(p.components[0].name, "transformer");
    EXPECT_EQ(p.components[0].checkpoint, dir / "transformer" / "1000" / "mp_rank_00_model_states.pt");
    EXPECT_EQ(p.components[1].name, "vae");
    ASSERT_EQ(p.skipped.size(), 1u);
    EXPECT_EQ(p.skipped[0], "tokenizer: holds no checkpoint");
}

TEST(CheckpointFolder, FolderWithItsOwnCheckpointIsNoPipeline) {
    TempDir dir;
    touch(dir / "latest", "1");
    touch(dir / "1" / "mp_rank_00_model_states.pt");
    touch(dir / "other" / "x.pt");
    EXPECT_TRUE(find_pipeline_components(dir.path()).components.empty());
    EXPECT_TRUE(find_pipeline_components(dir / "latest").components.empty()) << "a file is no pipeline";
}

} // namespace
} // namespace ckptconv::core
