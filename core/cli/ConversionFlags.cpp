#include "core/cli/ConversionFlags.hpp"

#include "core/util/Error.hpp"

namespace ckptconv::cli {

std::string one_of(const char* flag, const std::string& value, std::initializer_list<const char*> allowed) {
    for (const char* a : allowed)
        if (value == a) return value;
    std::string list;
    for (const char* a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
    throw core::Error(core::ExitCode::Usage, std::string("--") + flag + " " + value + ": expected one of " + list);
}

ConversionChoices read_conversion_choices(const po::variables_map& vm, const core::Config& config) {
    ConversionChoices c;
    c.dtype = one_of("dtype", vm.count("dtype") ? vm["dtype"].as<std::string>() : config.output_dtype.value_or("keep"),
                     {"keep", "fp32", "fp16", "bf16"});
    c.options = config.options;
    if (vm.count("option"))
        for (const auto& kv : vm["option"].as<std::vector<std::string>>()) {
            const size_t eq = kv.find('=');
            if (eq == std::string::npos || eq == 0)
                throw core::Error(core::ExitCode::Usage, "--option " + kv + ": expected KEY=VALUE");
            c.options.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
        }
    c.plugin = vm.count("plugin") ? vm["plugin"].as<std::string>() : config.plugin.value_or("");
    c.format_version =
        vm.count("format-version") ? vm["format-version"].as<std::string>() : config.format_version.value_or("");
    c.use_rules = config.rules && !vm.count("plugin");
    return c;
}

} // namespace ckptconv::cli
