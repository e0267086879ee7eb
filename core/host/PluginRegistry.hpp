// Loads plugin libraries, checks their ABI and descriptor, and keeps them alive.
#pragma once

#include "core/host/SemVer.hpp"
#include "core/io/ModelParallel.hpp"

#include <ckptconv/ckptconv_plugin.h>

#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace boost::dll {
class shared_library;
}

namespace ckptconv::core {

/** Why a plugin did or did not load. Shown by `ckptconv plugins`. */
enum class LoadStatus {
    Loaded,
    CannotOpen,          ///< dlopen failed (not a library, missing dependency...)
    MissingEntry,        ///< no ckptconv_plugin_entry_v1 symbol
    IncompatibleAbi,     ///< different ABI major
    PluginNewerThanHost, ///< same major, newer minor
    MalformedDescriptor, ///< too small, missing required field, bad id or version
    DuplicateIdVersion,  ///< the same id and version was already loaded
    InitFailed,          ///< init() returned an error
};
const char* load_status_name(LoadStatus status);

/** A value a plugin wants read from a YAML file beside the input (ckptconv_sidecar_v1, ABI 1.6). */
struct SidecarRequest {
    std::string file_name;
    std::string yaml_path; ///< mapping keys joined by '.'
    std::string option;    ///< "source.<name>"
    uint32_t parents = 0;  ///< folders above the input's searched too
};

struct PluginRecord {
    std::string origin; ///< library path, or "builtin:<name>" for statically linked plugins
    LoadStatus status = LoadStatus::CannotOpen;
    std::string message; ///< why it failed; "" when loaded
    std::string id;
    std::string version;
    std::optional<SemVer> semver;
    std::string description;
    std::vector<std::string> format_versions;
    std::vector<PartitionRule> partitions; ///< how its model-parallel saves split tensors (ABI 1.5); empty: none
    std::vector<SidecarRequest> sidecars;  ///< values to read beside the input (ABI 1.6)
    uint32_t abi_version = 0;
    ckptconv_plugin_v1 descriptor{};                     ///< zero-filled copy of the plugin's descriptor
    void* state = nullptr;                               ///< from init(); released by shutdown()
    std::shared_ptr<boost::dll::shared_library> library; ///< keeps the code mapped

    bool loaded() const { return status == LoadStatus::Loaded; }
    std::string label() const { return id + "@" + version; }
};

/** Which loaded build of each id is used: pins, exclusions. */
struct SelectionPolicy {
    std::map<std::string, std::string> pins; ///< id -> version range text
    std::set<std::string> disabled;
};

class PluginRegistry {
  public:
    PluginRegistry() = default;
    ~PluginRegistry();
    PluginRegistry(const PluginRegistry&) = delete;
    PluginRegistry& operator=(const PluginRegistry&) = delete;

    /** Loads every `ckptconv_*.so` in `dir` (sorted by name); a missing dir is skipped. */
    void load_directory(const std::filesystem::path& dir);
    /** Loads one library; any failure becomes a record with its status. */
    void load_library(const std::filesystem::path& file);
    /** Registers a statically linked plugin through its entry function. */
    void add_entry(ckptconv_plugin_entry_fn entry, const std::string& origin);

    const std::vector<std::unique_ptr<PluginRecord>>& records() const { return records_; }

    /**
     * Applies the policy: for each id, the highest loaded version matching its
     * pin (if any) and not disabled. Throws Error(Usage) when a pin matches
     * no loaded build, naming the versions found.
     */
    std::vector<const PluginRecord*> select(const SelectionPolicy& policy) const;
    /** A loaded build by id and optional version range ("" = highest). */
    const PluginRecord* find(const std::string& id, const std::string& version_range) const;

  private:
    PluginRecord& register_descriptor(std::unique_ptr<PluginRecord> record, const ckptconv_plugin_v1* d);
    std::vector<std::unique_ptr<PluginRecord>> records_;
};

} // namespace ckptconv::core
