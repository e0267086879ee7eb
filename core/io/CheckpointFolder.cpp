#include "core/io/CheckpointFolder.hpp"

#include "core/io/DeepSpeedCheckpoint.hpp"
#include "core/io/OutputTransaction.hpp"
#include "core/util/Error.hpp"
#include "core/util/MappedFile.hpp"

#include <algorithm>
#include <optional>
#include <regex>

namespace ckptconv::core {
namespace fs = std::filesystem;

namespace {

bool ends_with(const std::string& name, const std::string& suffix) {
    return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
}

struct FolderContents {
    std::vector<fs::path> indexes;     ///< *.index.json
    std::vector<fs::path> singles;     ///< checkpoint files by extension
    std::vector<std::string> training; ///< "name (what)": HF Trainer / accelerate training state, never weights
    bool latest = false;               ///< a DeepSpeed `latest` tag file
};

// What HF Trainer and accelerate save beside the weights of checkpoint-N/ (training-saves.md 5.5).
std::optional<std::string> training_state_kind(const std::string& name) {
    static const std::vector<std::pair<std::regex, const char*>> kinds = {
        {std::regex(R"(optimizer(_\d+)?\.(pt|bin))"), "optimizer state"},
        {std::regex(R"(scheduler(_\d+)?\.(pt|bin))"), "LR scheduler state"},
        {std::regex(R"(scaler(_\d+)?\.pt)"), "AMP loss-scaler state"},
        {std::regex(R"(rng_state(_\d+)?\.pth)"), "RNG state"},
        {std::regex(R"(training_args\.bin)"), "trainer arguments"},
        {std::regex(R"((sampler(_\d+)?|dl_state_dict)\.bin)"), "data-loader state"}};
    for (const auto& [pattern, kind] : kinds)
        if (std::regex_match(name, pattern)) return name + " (" + kind + ")";
    return std::nullopt;
}

FolderContents scan(const fs::path& folder) {
    FolderContents c;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(folder)) {
        const std::string name = e.path().filename().string();
        if (name == "latest") { // any kind of file: resolve_latest refuses a FIFO by name instead of skipping it
            c.latest = true;
            continue;
        }
        if (!e.is_regular_file(ec) || is_ckptconv_temporary(name)) continue; // a killed run's leftover is no input
        if (ends_with(name, ".index.json"))
            c.indexes.push_back(e.path());
        else if (auto training = training_state_kind(name))
            c.training.push_back(std::move(*training));
        else if (ends_with(name, ".safetensors") || ends_with(name, ".bin") || ends_with(name, ".pt") ||
                 ends_with(name, ".pth") || ends_with(name, ".ckpt"))
            c.singles.push_back(e.path());
    }
    std::sort(c.singles.begin(), c.singles.end());
    std::sort(c.training.begin(), c.training.end());
    return c;
}

std::string join(const std::vector<std::string>& parts) {
    std::string out;
    for (const auto& p : parts) out += (out.empty() ? "" : ", ") + p;
    return out;
}

// DeepSpeed's save layout: `latest` holds a tag, `<tag>/` the per-rank files (read by DeepSpeedCheckpoint).
fs::path resolve_latest(const fs::path& folder) {
    const fs::path latest = folder / "latest";
    const MappedFile file(latest.string()); // a regular file: a FIFO named `latest` is refused, not waited on
    if (file.size() > 4096) throw bad_input(latest.string(), "is too large to be a DeepSpeed tag file");
    std::string tag(file.slice(0, file.size(), "tag"));
    tag = tag.substr(0, tag.find('\n'));
    while (!tag.empty() && std::isspace(static_cast<unsigned char>(tag.back()))) tag.pop_back();
    if (tag.empty() || tag == "." || tag == ".." || tag.find('/') != std::string::npos ||
        tag.find('\0') != std::string::npos)
        throw bad_input(latest.string(), "expected the tag of a DeepSpeed checkpoint (e.g. 1000), found '" + tag + "'");
    const fs::path dir = folder / tag;
    std::error_code ec;
    if (!fs::is_directory(dir, ec))
        throw bad_input(latest.string(), "names tag '" + tag + "', but " + dir.string() + " is not a folder");
    if (!is_deepspeed_tag_folder(dir))
        throw bad_input(dir.string(), "holds no *_model_states.pt (tag '" + tag + "' from " + latest.string() + ")");
    return dir;
}

} // namespace

fs::path resolve_checkpoint_folder(const fs::path& folder) {
    const FolderContents c = scan(folder);
    // A DeepSpeed save first: HF Trainer puts rng_state_*.pth, scheduler.pt and, under ZeRO-3, a bogus
    // model file beside `latest`.
    if (c.latest) return resolve_latest(folder);
    if (is_deepspeed_tag_folder(folder)) return folder;
    if (c.indexes.size() == 1) return c.indexes[0];
    if (c.indexes.size() > 1)
        throw bad_input(folder.string(), "holds several *.index.json files; name the one to read");
    if (c.singles.size() == 1) return c.singles[0];
    if (c.singles.size() > 1)
        throw bad_input(folder.string(), "holds several checkpoint files and no *.index.json; name one");
    if (!c.training.empty())
        throw bad_input(folder.string(), "holds only training state (" + join(c.training) +
                                             "), no weights; name a file to read it anyway");
    throw bad_input(folder.string(), "holds no checkpoint file, *.index.json or DeepSpeed `latest` tag");
}

std::string training_state_beside(const fs::path& folder) {
    std::error_code ec;
    if (!fs::is_directory(folder, ec)) return {};
    return join(scan(folder).training);
}

PipelineFolder find_pipeline_components(const fs::path& folder) {
    PipelineFolder p;
    std::error_code ec;
    if (!fs::is_directory(folder, ec)) return p;
    const FolderContents own = scan(folder);
    if (!own.indexes.empty() || !own.singles.empty() || own.latest) return p;
    std::vector<fs::path> subfolders;
    for (const auto& e : fs::directory_iterator(folder))
        if (e.is_directory(ec) && e.path().filename().string().front() != '.') subfolders.push_back(e.path());
    std::sort(subfolders.begin(), subfolders.end());
    for (const auto& sub : subfolders) {
        const FolderContents c = scan(sub);
        const std::string name = sub.filename().string();
        if (c.indexes.empty() && c.singles.empty() && !c.latest)
            p.skipped.push_back(name + ": holds no checkpoint");
        else
            p.components.push_back({name, resolve_checkpoint_folder(sub)});
    }
    return p;
}

} // namespace ckptconv::core
