// Provenance inside a diffusers config.json / model_index.json, where diffusers ignores it.
#pragma once

#include <map>
#include <string>

namespace ckptconv::core {

/**
 * `config` (a JSON object laid out as Python's json.dumps(indent=2,
 * sort_keys=True), as plugins write diffusers configs) with a "_ckptconv"
 * member holding `provenance`, in its sorted place and the same layout:
 * diffusers drops underscore keys when it builds the model (extract_init_dict).
 * Text in any other layout is returned unchanged.
 */
std::string with_config_provenance(const std::string& config, const std::map<std::string, std::string>& provenance);

/** `config` without the member with_config_provenance added (what the plugin wrote), and that member's text. */
struct ConfigStamp {
    std::string config;
    std::string stamp; ///< the "_ckptconv" object's lines, "" when there was none
};
ConfigStamp split_config_provenance(const std::string& config);

/** A JSON string literal as Python's json.dumps writes it (ensure_ascii: non-ASCII as \uXXXX). */
std::string python_json_string(const std::string& text);

} // namespace ckptconv::core
