// The flags convert and verify share, read into the library's ConversionChoices.
#pragma once

#include "core/cli/CommandLine.hpp"
#include "core/convert/ConversionChoices.hpp"

#include <initializer_list>
#include <string>

namespace ckptconv::cli {

using convert::ConversionChoices;

/** Reads --dtype, --option, --plugin, --format-version over the config; Error(Usage) on bad values. */
ConversionChoices read_conversion_choices(const po::variables_map& vm, const core::Config& config);

/** `value` if it is one of `allowed`, else Error(Usage) naming the flag and the choices. */
std::string one_of(const char* flag, const std::string& value, std::initializer_list<const char*> allowed);

} // namespace ckptconv::cli
