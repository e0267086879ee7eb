// Which checkpoint a folder stands for, and when a folder is a pipeline of components.
#include "core/io/CheckpointFolder.hpp"
#include "core/io/CheckpointOpener.hpp"
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
        open_checkpoint(folder.string()); // resolving, then reading what the folder names
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

TEST(CheckpointFolder, HfTrainerTrainingStateIsSetAsideAndNamed) {
    TempDir dir;
    for (const char* name : {"model.safetensors", "optimizer.pt", "scheduler.pt", "scaler.pt", "rng_state_0.pth",
                             "rng_state_11.pth", "training_args.bin", "optimizer_1.bin", "sampler.bin"})
        touch(dir / name);
    EXPECT_EQ(resolve_checkpoint_folder(dir.path()), dir / "model.safetensors");
    EXPECT_EQ(training_state_beside(dir.path()),
              "optimizer.pt (optimizer state), optimizer_1.bin (optimizer state), rng_state_0.pth (RNG state), "
              "rng_state_11.pth (RNG state), sampler.bin (data-loader state), scaler.pt (AMP loss-scaler state), "
              "scheduler.pt (LR scheduler state), training_args.bin (trainer arguments)");
    // Names that only look alike are candidates like any checkpoint: two of them are ambiguous.
    touch(dir / "my_optimizer.pt");
    EXPECT_NE(refusal(dir.path()).find("several checkpoint files"), std::string::npos);
    TempDir only;
    touch(only / "optimizer.pt");
    EXPECT_NE(refusal(only.path()).find("holds only training state (optimizer.pt (optimizer state))"),
              std::string::npos);
}

TEST(CheckpointFolder, DeepSpeedLatestNamesTheTagFolder) {
    TempDir dir;
    touch(dir / "latest", "1000\n");
    touch(dir / "1000" / "mp_rank_00_model_states.pt");
    touch(dir / "500" / "mp_rank_00_model_states.pt");
    touch(dir / "model_config.json"); // SAT writes it beside `latest`
    EXPECT_EQ(resolve_checkpoint_folder(dir.path()), dir / "1000");
    EXPECT_EQ(resolve_checkpoint_folder(dir / "1000"), dir / "1000") << "a tag folder stands for itself";
}

TEST(CheckpointFolder, DeepSpeedSavesThatCannotBeReadAreRefused) {
    TempDir dir;
    touch(dir / "nowhere" / "latest", "2000");
    EXPECT_NE(refusal(dir / "nowhere").find("names tag '2000'"), std::string::npos);
    touch(dir / "escape" / "latest", "../../etc");
    EXPECT_NE(refusal(dir / "escape").find("expected the tag"), std::string::npos);
    touch(dir / "zero3" / "latest", "7");
    touch(dir / "zero3" / "7" / "z3_rank_00_model_states.pt");
    EXPECT_NE(refusal(dir / "zero3").find("SAT ZeRO-3 partition file"), std::string::npos);
    touch(dir / "gap" / "latest", "7");
    touch(dir / "gap" / "7" / "mp_rank_00_model_states.pt");
    touch(dir / "gap" / "7" / "zero_pp_rank_0_mp_rank_00_optim_states.pt");
    touch(dir / "gap" / "7" / "zero_pp_rank_2_mp_rank_00_optim_states.pt");
    EXPECT_NE(refusal(dir / "gap").find("rank 1 (found rank 2): a rank is missing"), std::string::npos);
    touch(dir / "nvme" / "7" / "mp_rank_00_model_states.pt");
    touch(dir / "nvme" / "7" / "offloaded_tensors" / "rank00" / "1.tensor.swp");
    EXPECT_NE(refusal(dir / "nvme" / "7").find("NVMe"), std::string::npos);
    touch(dir / "pipe" / "7" / "layer_01-model_00-model_states.pt");
    touch(dir / "pipe" / "7" / "mp_rank_00_model_states.pt");
    EXPECT_NE(refusal(dir / "pipe" / "7").find("pipeline-parallel"), std::string::npos);
    touch(dir / "mp" / "latest", "7");
    touch(dir / "mp" / "7" / "mp_rank_00_model_states.pt");
    touch(dir / "mp" / "7" / "mp_rank_02_model_states.pt");
    EXPECT_NE(refusal(dir / "mp").find("file for model-parallel rank 1 (found rank 2)"), std::string::npos);
    touch(dir / "universal" / "7" / "mp_rank_00_model_states.pt");
    std::filesystem::create_directories(dir / "universal" / "7" / "zero" / "embed.weight");
    EXPECT_NE(refusal(dir / "universal" / "7").find("universal checkpoint"), std::string::npos);
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
    EXPECT_EQ(p.components[0].checkpoint, dir / "transformer" / "1000");
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
