#include "core/convert/SidecarValue.hpp"

#include "core/util/Error.hpp"

#include <yaml-cpp/yaml.h>

#include <fstream>
#include <iterator>

namespace ckptconv::convert {
namespace fs = std::filesystem;

namespace {

constexpr uint64_t kMaxBytes = 1u << 20;
constexpr int kMaxDepth = 64; // yaml-cpp parses recursively: deeper input is refused before it parses

// Nesting as yaml-cpp would recurse into it: flow brackets, and block indentation counted per level.
int nesting(const std::string& text) {
    int flow = 0, deepest = 0;
    size_t line_start = 0;
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (c == '[' || c == '{') deepest = std::max(deepest, ++flow);
        if ((c == ']' || c == '}') && flow > 0) --flow;
        if (c == '\n' || i + 1 == text.size()) {
            size_t indent = 0;
            while (line_start + indent < text.size() &&
                   (text[line_start + indent] == ' ' || text[line_start + indent] == '-'))
                ++indent;
            deepest = std::max(deepest, static_cast<int>(indent / 2));
            line_start = i + 1;
        }
    }
    return deepest;
}

} // namespace

std::optional<SidecarValue> read_sidecar(const fs::path& checkpoint, const core::SidecarRequest& request) {
    fs::path folder = checkpoint.parent_path();
    for (uint32_t up = 0; up <= request.parents; ++up, folder = folder.parent_path()) {
        const fs::path file = folder / request.file_name;
        std::error_code ec;
        if (!fs::is_regular_file(file, ec)) continue;
        if (fs::file_size(file, ec) > kMaxBytes) throw core::bad_input(file.string(), "larger than 1 MiB");
        std::ifstream in(file, std::ios::binary);
        const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        if (nesting(text) > kMaxDepth)
            throw core::bad_input(file.string(), "nested deeper than " + std::to_string(kMaxDepth) + " levels");
        try {
            YAML::Node node = YAML::Load(text);
            for (size_t begin = 0;;) { // one mapping level per dotted key
                if (!node || !node.IsMap()) return std::nullopt;
                const size_t dot = request.yaml_path.find('.', begin);
                // reset() rebinds the handle: assigning one Node to another would write into the tree.
                node.reset(node[request.yaml_path.substr(begin, dot == std::string::npos ? dot : dot - begin)]);
                if (dot == std::string::npos) break;
                begin = dot + 1;
            }
            if (!node || !node.IsScalar()) return std::nullopt;
            return SidecarValue{node.Scalar(), file};
        } catch (const YAML::Exception& e) {
            throw core::bad_input(file.string(), std::string("not readable YAML: ") + e.what());
        }
    }
    return std::nullopt;
}

} // namespace ckptconv::convert
