// libFuzzer target: DeepSpeed tag folders. An input is one real fixture folder (tests/corpus/deepspeed/)
// with one of its files replaced, so the mutations reach the checks across files (partition counts,
// lengths, shapes, dtypes per rank) rather than dying at the first file's zip header:
//   byte 0: which folder, byte 1: which of its files, byte 2: read options (bit 4: the rest is only the
//   file's data.pkl, put back into its zip with a CRC that matches, so pickle mutations get past the
//   CRC check), the rest: the file's bytes.
// The whole model is then read back through the gathered pieces. Only BadInput and VerifyMismatch
// (--check-master) are acceptable outcomes.
//   CKPTCONV_FUZZ_DEEPSPEED=DIR   the fixture root (required)
//   CKPTCONV_FUZZ_WRITE_SEEDS=DIR write one seed per folder and file there, then exit
#include "core/io/DeepSpeedCheckpoint.hpp"
#include "core/io/FileWriter.hpp"
#include "core/io/ModelParallel.hpp"
#include "core/io/TensorBytes.hpp"
#include "core/io/ZipReader.hpp"
#include "core/io/ZipWriter.hpp"
#include "core/util/Error.hpp"
#include "core/util/MappedFile.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <unistd.h>
#include <utility>
#include <vector>

namespace {
namespace fs = std::filesystem;
using namespace ckptconv::core;

constexpr uintmax_t kLargestFolder = 2u << 20; // larger fixtures make each run too slow to be worth it

// Model-parallel folders are merged by rules of every kind, shaped like cogvideox_sat's.
const std::vector<PartitionRule> kRules = {{"*.matrix_A.*", PartitionKind::Refuse, 1, "LoRA"},
                                           {"*.query_key_value.weight", PartitionKind::Column, 3, ""},
                                           {"*.query_key_value.bias", PartitionKind::Column, 3, ""},
                                           {"*.attention.dense.weight", PartitionKind::Row, 1, ""},
                                           {"*.dense_h_to_4h.*", PartitionKind::Column, 1, ""},
                                           {"*.dense_4h_to_h.weight", PartitionKind::Row, 1, ""},
                                           {"*word_embeddings.weight", PartitionKind::Vocab, 1, ""}};

using Records = std::vector<std::pair<std::string, std::string>>; ///< name and bytes

struct File {
    std::string name;
    std::string bytes;
    Records records; ///< its zip records (none if it is not a zip)
};

struct Folder {
    std::string name;
    std::vector<File> files; ///< the tag folder's files, sorted by name
};

std::vector<Folder> folders;
fs::path scratch;

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

Records records_of(const fs::path& p) {
    Records records;
    try {
        const MappedFile file(p.string());
        const ZipReader zip(file);
        for (const auto& e : zip.entries()) records.emplace_back(e.name, zip.read(e));
    } catch (const Error&) {
        records.clear();
    }
    return records;
}

bool is_pickle(const std::string& record) {
    return record.size() >= 9 && record.compare(record.size() - 9, 9, "/data.pkl") == 0;
}

// The tag folder under a fixture: the one holding *_model_states.pt.
std::optional<fs::path> tag_folder_of(const fs::path& fixture) {
    for (const auto& e : fs::recursive_directory_iterator(fixture))
        if (e.is_regular_file() && e.path().filename().string().find("model_states.pt") != std::string::npos)
            return e.path().parent_path();
    return std::nullopt;
}

void load_fixtures(const fs::path& root) {
    std::vector<fs::path> fixtures;
    for (const auto& e : fs::directory_iterator(root))
        if (e.is_directory()) fixtures.push_back(e.path());
    std::sort(fixtures.begin(), fixtures.end());
    for (const auto& fixture : fixtures) {
        const auto tag = tag_folder_of(fixture);
        if (!tag) continue;
        Folder f{fixture.filename().string(), {}};
        uintmax_t total = 0;
        for (const auto& e : fs::directory_iterator(*tag))
            if (e.is_regular_file()) {
                total += e.file_size();
                f.files.push_back({e.path().filename().string(), slurp(e.path()), records_of(e.path())});
            }
        if (total > kLargestFolder || f.files.empty()) continue;
        std::sort(f.files.begin(), f.files.end(), [](const File& a, const File& b) { return a.name < b.name; });
        folders.push_back(std::move(f));
    }
    if (folders.empty()) std::abort();
}

void write_seeds(const fs::path& out) {
    fs::create_directories(out);
    for (size_t i = 0; i < folders.size(); ++i)
        for (size_t j = 0; j < folders[i].files.size(); ++j) {
            const File& file = folders[i].files[j];
            std::ofstream seed(out / (folders[i].name + "-" + file.name), std::ios::binary);
            seed.put(static_cast<char>(i)).put(static_cast<char>(j)).put(0) << file.bytes;
            for (const auto& [name, bytes] : file.records)
                if (is_pickle(name)) {
                    std::ofstream pickle(out / (folders[i].name + "-" + file.name + ".pkl"), std::ios::binary);
                    pickle.put(static_cast<char>(i)).put(static_cast<char>(j)).put(16) << bytes;
                }
        }
}
} // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    const char* root = std::getenv("CKPTCONV_FUZZ_DEEPSPEED");
    if (root == nullptr) std::abort();
    load_fixtures(root);
    if (const char* seeds = std::getenv("CKPTCONV_FUZZ_WRITE_SEEDS")) {
        write_seeds(seeds);
        std::exit(0);
    }
    char dir[] = "/dev/shm/ckptconv-fuzz-deepspeed-XXXXXX";
    if (::mkdtemp(dir) == nullptr) std::abort();
    scratch = dir;
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 3) return 0;
    const Folder& folder = folders[data[0] % folders.size()];
    const size_t replaced = data[1] % folder.files.size();
    const uint8_t flags = data[2];
    const fs::path tag = scratch / "global_step1";
    fs::remove_all(tag);
    fs::create_directories(tag);
    const std::string_view input(reinterpret_cast<const char*>(data + 3), size - 3);
    for (size_t j = 0; j < folder.files.size(); ++j) {
        const File& file = folder.files[j];
        const fs::path path = tag / file.name;
        if (j == replaced && (flags & 16) != 0 && !file.records.empty()) {
            FileWriter out(path.string());
            ZipWriter zip(out);
            for (const auto& [name, bytes] : file.records) zip.add(name, is_pickle(name) ? input : bytes);
            zip.finish();
            out.close();
        } else {
            std::ofstream(path, std::ios::binary) << (j == replaced ? input : std::string_view(file.bytes));
        }
    }
    ReadOptions options;
    if (flags & 1) options.dtype = DType::F32;
    if (flags & 2) options.dtype = DType::BF16;
    options.dtype_for_every_tensor = (flags & 4) != 0;
    options.check_master = (flags & 8) != 0;
    options.partitions = &kRules;
    options.partitions_from = "fuzz";
    try {
        const CheckpointIndex index = read_deepspeed_folder(tag, tag.string(), options);
        std::string bytes;
        for (const auto& t : index.tensors) tensor_bytes(index, *t.info, bytes);
    } catch (const Error& e) {
        if (e.code() != ExitCode::BadInput && e.code() != ExitCode::VerifyMismatch) std::abort();
    }
    return 0;
}
