#include "core/host/PluginRegistry.hpp"

#include "core/host/HostCall.hpp"
#include "core/util/Error.hpp"
#include "core/util/Log.hpp"
#include "core/util/Text.hpp"

#include <boost/dll/shared_library.hpp>

#include <algorithm>
#include <cstddef>
#include <cstring>

namespace ckptconv::core {
namespace {

bool valid_id(const char* id) {
    if (!id || !*id) return false;
    for (const char* p = id; *p; ++p)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_')) return false;
    return true;
}

// Smallest descriptor that holds every field a 1.0 plugin must fill.
constexpr size_t kMinDescriptorSize = offsetof(ckptconv_plugin_v1, plan) + sizeof(ckptconv_plugin_v1::plan);

/**
 * Checks a descriptor's array of `count` entries (`name`, e.g. "partition rule", since ABI `since`) and
 * hands each to `take`, which returns why it is malformed or "". Entries are struct_size apart: a plugin
 * built against a later minor may carry longer ones. Returns the first problem, or "".
 */
template <class Entry, class Take>
std::string each_entry(const Entry* first, uint32_t count, uint32_t max, const std::string& name, const char* since,
                       Take take) {
    if (count == 0) return {};
    if (!first) return "declares " + std::to_string(count) + " " + name + "s but points to none";
    if (count > max) return "more than " + std::to_string(max) + " " + name + "s";
    const uint32_t step = first->struct_size;
    if (step < sizeof(Entry))
        return name + "s are " + std::to_string(step) + " bytes, ABI " + since + " needs " +
               std::to_string(sizeof(Entry));
    const auto* bytes = reinterpret_cast<const char*>(first);
    for (uint32_t i = 0; i < count; ++i) {
        const auto* e = reinterpret_cast<const Entry*>(bytes + static_cast<size_t>(i) * step);
        const std::string which = name + " " + std::to_string(i);
        if (e->struct_size != step) return which + " differs in size from " + name + " 0";
        if (std::string problem = take(*e); !problem.empty()) return which + " " + problem;
    }
    return {};
}

// The plugin's partition rules (ABI 1.5), checked; returns why they are malformed, or "".
std::string copy_partitions(const ckptconv_plugin_v1& desc, std::vector<PartitionRule>& out) {
    constexpr uint32_t kMaxStride = 1024;
    return each_entry(desc.partitions, desc.partition_count, 4096, "partition rule", "1.5",
                      [&](const ckptconv_partition_v1& e) -> std::string {
                          if (!e.key_glob || !*e.key_glob) return "has no key_glob";
                          if (e.kind > CKPTCONV_PARTITION_REFUSE) return "has unknown kind " + std::to_string(e.kind);
                          if (e.kind == CKPTCONV_PARTITION_REFUSE && (!e.reason || !*e.reason))
                              return "refuses without a reason";
                          if (e.stride > kMaxStride) return "has stride " + std::to_string(e.stride);
                          out.push_back({e.key_glob, static_cast<PartitionKind>(e.kind),
                                         std::max<uint32_t>(e.stride, 1), e.reason ? e.reason : ""});
                          return {};
                      });
}

// The plugin's sidecar values (ABI 1.6), checked; returns why they are malformed, or "".
std::string copy_sidecars(const ckptconv_plugin_v1& desc, std::vector<SidecarRequest>& out) {
    constexpr uint32_t kMaxParents = 4;
    return each_entry(desc.sidecars, desc.sidecar_count, 64, "sidecar value", "1.6",
                      [&](const ckptconv_sidecar_v1& e) -> std::string {
                          const std::string file = e.file_name ? e.file_name : "";
                          // A plain name: the host never follows a plugin's path out of the input's folders.
                          if (file.empty() || file == "." || file == ".." || file.find('/') != std::string::npos)
                              return "has file_name '" + file + "', not a plain file name";
                          if (!e.yaml_path || !*e.yaml_path) return "has no yaml_path";
                          const std::string option = e.option ? e.option : "";
                          if (option.size() <= 7 || option.compare(0, 7, "source.") != 0)
                              return "has option '" + option + "': it must be \"source.\" and a name";
                          if (e.parents > kMaxParents) return "looks " + std::to_string(e.parents) + " folders up";
                          out.push_back({file, e.yaml_path, option, e.parents});
                          return {};
                      });
}

} // namespace

const char* load_status_name(LoadStatus status) {
    switch (status) {
    case LoadStatus::Loaded: return "loaded";
    case LoadStatus::CannotOpen: return "cannot-open";
    case LoadStatus::MissingEntry: return "missing-entry";
    case LoadStatus::IncompatibleAbi: return "incompatible-abi";
    case LoadStatus::PluginNewerThanHost: return "plugin-newer-than-host";
    case LoadStatus::MalformedDescriptor: return "malformed-descriptor";
    case LoadStatus::DuplicateIdVersion: return "duplicate-id-version";
    case LoadStatus::InitFailed: return "init-failed";
    }
    return "unknown";
}

PluginRegistry::~PluginRegistry() {
    // Release plugin state while every library is still mapped.
    for (auto& r : records_)
        if (r->loaded() && r->descriptor.shutdown) r->descriptor.shutdown(r->state);
}

void PluginRegistry::load_directory(const std::filesystem::path& dir) {
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) {
        log(LogLevel::Debug, "plugin folder " + dir.string() + " does not exist; skipped");
        return;
    }
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
        const std::string name = entry.path().filename().string();
        if (name.rfind("ckptconv_", 0) == 0 && entry.path().extension() == ".so") files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) load_library(f);
}

void PluginRegistry::load_library(const std::filesystem::path& file) {
    auto record = std::make_unique<PluginRecord>();
    record->origin = file.string();
    auto lib = std::make_shared<boost::dll::shared_library>();
    try {
        lib->load(file.string(), boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
    } catch (const std::exception& e) {
        record->status = LoadStatus::CannotOpen;
        record->message = e.what();
        records_.push_back(std::move(record));
        return;
    }
    if (!lib->has(CKPTCONV_PLUGIN_ENTRY_SYMBOL)) {
        record->status = LoadStatus::MissingEntry;
        record->message = std::string("no exported symbol ") + CKPTCONV_PLUGIN_ENTRY_SYMBOL;
        records_.push_back(std::move(record));
        return;
    }
    record->library = lib;
    const auto entry = &lib->get<const ckptconv_plugin_v1*()>(CKPTCONV_PLUGIN_ENTRY_SYMBOL);
    const ckptconv_plugin_v1* descriptor = nullptr;
    try {
        descriptor = entry();
    } catch (...) {
        descriptor = nullptr;
    }
    register_descriptor(std::move(record), descriptor);
}

void PluginRegistry::add_entry(ckptconv_plugin_entry_fn entry, const std::string& origin) {
    auto record = std::make_unique<PluginRecord>();
    record->origin = origin;
    register_descriptor(std::move(record), entry ? entry() : nullptr);
}

PluginRecord& PluginRegistry::register_descriptor(std::unique_ptr<PluginRecord> record, const ckptconv_plugin_v1* d) {
    PluginRecord& r = *record;
    records_.push_back(std::move(record));
    auto fail = [&](LoadStatus status, std::string message) -> PluginRecord& {
        r.status = status;
        r.message = std::move(message);
        return r;
    };
    if (!d) return fail(LoadStatus::MalformedDescriptor, "entry function returned no descriptor");
    r.abi_version = d->abi_version;
    const uint32_t major = CKPTCONV_ABI_MAJOR_OF(d->abi_version);
    const uint32_t minor = CKPTCONV_ABI_MINOR_OF(d->abi_version);
    const std::string abi = std::to_string(major) + "." + std::to_string(minor);
    const std::string host_abi = std::to_string(CKPTCONV_ABI_MAJOR) + "." + std::to_string(CKPTCONV_ABI_MINOR);
    if (major != CKPTCONV_ABI_MAJOR)
        return fail(LoadStatus::IncompatibleAbi, "plugin ABI " + abi + ", host ABI " + host_abi);
    if (minor > CKPTCONV_ABI_MINOR)
        return fail(LoadStatus::PluginNewerThanHost, "plugin ABI " + abi + " is newer than host ABI " + host_abi);
    if (d->struct_size < kMinDescriptorSize)
        return fail(LoadStatus::MalformedDescriptor, "descriptor is " + std::to_string(d->struct_size) +
                                                         " bytes, ABI 1.0 needs at least " +
                                                         std::to_string(kMinDescriptorSize));
    std::memcpy(&r.descriptor, d, std::min<size_t>(d->struct_size, sizeof(ckptconv_plugin_v1)));
    const ckptconv_plugin_v1& desc = r.descriptor;
    if (!valid_id(desc.id)) return fail(LoadStatus::MalformedDescriptor, "id must be non-empty [a-z0-9_]+");
    r.id = desc.id;
    r.version = desc.version ? desc.version : "";
    r.semver = SemVer::parse(r.version);
    if (!r.semver)
        return fail(LoadStatus::MalformedDescriptor, "version '" + r.version + "' is not a semantic version");
    if (!desc.detect) return fail(LoadStatus::MalformedDescriptor, "required function detect is missing");
    if (!desc.plan) return fail(LoadStatus::MalformedDescriptor, "required function plan is missing");
    r.description = desc.description ? desc.description : "";
    for (const char* const* fv = desc.format_versions; fv && *fv; ++fv) r.format_versions.emplace_back(*fv);
    if (std::string problem = copy_partitions(desc, r.partitions); !problem.empty())
        return fail(LoadStatus::MalformedDescriptor, problem);
    if (std::string problem = copy_sidecars(desc, r.sidecars); !problem.empty())
        return fail(LoadStatus::MalformedDescriptor, problem);
    for (const auto& other : records_)
        if (other.get() != &r && other->loaded() && other->id == r.id && *other->semver == *r.semver)
            return fail(LoadStatus::DuplicateIdVersion, "already loaded from " + other->origin);
    if (desc.init) {
        ckptconv_call call(r.id);
        const int32_t rc = invoke_plugin(call, "init", [&] { return desc.init(host_services(), &call, &r.state); });
        if (rc != CKPTCONV_OK) return fail(LoadStatus::InitFailed, call.error_text(rc));
    }
    r.status = LoadStatus::Loaded;
    return r;
}

std::vector<const PluginRecord*> PluginRegistry::select(const SelectionPolicy& policy) const {
    std::map<std::string, const PluginRecord*> best;
    std::map<std::string, std::vector<std::string>> seen;
    for (const auto& r : records_) {
        if (!r->loaded() || policy.disabled.count(r->id)) continue;
        seen[r->id].push_back(r->version);
        if (auto pin = policy.pins.find(r->id); pin != policy.pins.end()) {
            if (!VersionRange(pin->second).matches(*r->semver)) continue;
        }
        auto& slot = best[r->id];
        if (!slot || *slot->semver < *r->semver) slot = r.get();
    }
    for (const auto& [id, range] : policy.pins) {
        if (policy.disabled.count(id) || best.count(id)) continue;
        const std::string found = join(seen[id]);
        throw Error(ExitCode::Usage, "plugin pin " + id + " \"" + range + "\" matches no loaded build (found: " +
                                         (found.empty() ? "none" : found) + ")");
    }
    std::vector<const PluginRecord*> out;
    for (const auto& [id, r] : best) out.push_back(r);
    return out;
}

const PluginRecord* PluginRegistry::find(const std::string& id, const std::string& version_range) const {
    const std::optional<VersionRange> range =
        version_range.empty() ? std::nullopt : std::optional<VersionRange>(VersionRange(version_range));
    const PluginRecord* best = nullptr;
    for (const auto& r : records_) {
        if (!r->loaded() || r->id != id || (range && !range->matches(*r->semver))) continue;
        if (!best || *best->semver < *r->semver) best = r.get();
    }
    return best;
}

} // namespace ckptconv::core
