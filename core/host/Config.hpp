// The YAML configuration: plugin paths, pins, exclusions, format version, options, output defaults.
#pragma once

#include "core/host/PluginRegistry.hpp"
#include "core/plan/RuleSet.hpp"

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ckptconv::core {

struct Config {
    std::filesystem::path file;                      ///< where it was read from ("" = none)
    std::vector<std::filesystem::path> plugin_paths; ///< resolved against the config's folder
    SelectionPolicy selection;                       ///< `plugins:` pins and `disabled:`
    std::vector<std::string> priority;               ///< ids that win detection ties, first first
    std::optional<std::string> plugin;               ///< `plugin: id[@range]` or "none"
    std::optional<std::string> format_version;
    std::vector<std::pair<std::string, std::string>> options;
    std::optional<std::string> output_format; ///< output.to
    std::optional<std::string> output_dtype;  ///< output.dtype
    std::optional<std::string> shard_size;    ///< output.shard_size
    std::optional<bool> cached_writes;        ///< output.cached_writes
    std::optional<RuleSet> rules;             ///< `rules:` a plan as data, used instead of a plugin
};

/**
 * Reads and validates a config; unknown keys and wrong types are errors.
 * Throws Error(Usage) with "<file>:<line>:<column>: key '<key>': <what>".
 */
Config load_config(const std::filesystem::path& file);

} // namespace ckptconv::core
