// Small string helpers the host's messages share.
#pragma once

#include <string>
#include <vector>

namespace ckptconv::core {

/** `items` with `separator` between them, e.g. the versions an error lists. */
inline std::string join(const std::vector<std::string>& items, const std::string& separator = ", ") {
    std::string s;
    for (const auto& item : items) s += (s.empty() ? "" : separator) + item;
    return s;
}

} // namespace ckptconv::core
