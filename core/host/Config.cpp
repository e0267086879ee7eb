#include "core/host/Config.hpp"

#include "core/util/Error.hpp"

#include <yaml-cpp/yaml.h>

#include <regex>
#include <set>

namespace ckptconv::core {
namespace {

class Reader {
  public:
    explicit Reader(std::filesystem::path file) : file_(std::move(file)) {}

    [[noreturn]] void fail(const YAML::Node& node, const std::string& key, const std::string& what) const {
        const YAML::Mark m = node.Mark();
        std::string where = file_.string();
        if (m.line >= 0) where += ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
        throw Error(ExitCode::Usage, where + ": key '" + key + "': " + what);
    }

    std::string scalar(const YAML::Node& node, const std::string& key) const {
        if (!node.IsScalar()) fail(node, key, "expected a text value");
        return node.Scalar();
    }

    std::vector<std::string> list(const YAML::Node& node, const std::string& key) const {
        if (node.IsScalar()) return {node.Scalar()};
        if (!node.IsSequence()) fail(node, key, "expected a list");
        std::vector<std::string> out;
        for (const auto& item : node) out.push_back(scalar(item, key));
        return out;
    }

    template <class F> void map(const YAML::Node& node, const std::string& key, F&& each) const {
        if (!node.IsMap()) fail(node, key, "expected a mapping");
        for (const auto& kv : node) each(scalar(kv.first, key), kv.second);
    }

    const std::filesystem::path& file() const { return file_; }

  private:
    std::filesystem::path file_;
};

RuleSet read_rules(const Reader& r, const YAML::Node& node) {
    RuleSet rules;
    r.map(node, "rules", [&](const std::string& k, const YAML::Node& v) {
        if (k == "roots") {
            rules.roots = r.list(v, "rules.roots");
        } else if (k == "output_root") {
            rules.output_root = r.scalar(v, "rules.output_root");
        } else if (k == "drop") {
            if (!v.IsSequence()) r.fail(v, "rules.drop", "expected a list of {prefix, reason}");
            for (const auto& item : v) {
                RuleSet::Drop d;
                r.map(item, "rules.drop", [&](const std::string& f, const YAML::Node& x) {
                    if (f == "prefix")
                        d.prefix = r.scalar(x, "rules.drop.prefix");
                    else if (f == "reason")
                        d.reason = r.scalar(x, "rules.drop.reason");
                    else
                        r.fail(x, "rules.drop." + f, "unknown key (expected prefix, reason)");
                });
                if (d.prefix.empty()) r.fail(item, "rules.drop", "needs a non-empty prefix");
                if (d.reason.empty()) d.reason = "dropped by rule: prefix '" + d.prefix + "'";
                rules.drops.push_back(d);
            }
        } else if (k == "rename") {
            if (!v.IsSequence()) r.fail(v, "rules.rename", "expected a list of {prefix|replace|regex, to}");
            for (const auto& item : v) {
                RuleSet::Rename rn;
                bool has_from = false;
                bool has_to = false;
                r.map(item, "rules.rename", [&](const std::string& f, const YAML::Node& x) {
                    const std::string text = r.scalar(x, "rules.rename." + f);
                    if (f == "to") {
                        rn.to = text;
                        has_to = true;
                        return;
                    }
                    if (has_from) r.fail(x, "rules.rename." + f, "one of prefix, replace or regex per rule");
                    has_from = true;
                    rn.from = text;
                    if (f == "prefix")
                        rn.kind = RuleSet::Rename::Kind::Prefix;
                    else if (f == "replace")
                        rn.kind = RuleSet::Rename::Kind::Replace;
                    else if (f == "regex") {
                        rn.kind = RuleSet::Rename::Kind::Regex;
                        try {
                            std::regex check(text);
                        } catch (const std::regex_error& e) {
                            r.fail(x, "rules.rename.regex", std::string("invalid regular expression: ") + e.what());
                        }
                    } else
                        r.fail(x, "rules.rename." + f, "unknown key (expected prefix, replace, regex, to)");
                });
                if (!has_from || !has_to || rn.from.empty())
                    r.fail(item, "rules.rename", "each rule needs prefix|replace|regex and to");
                rules.renames.push_back(rn);
            }
        } else {
            r.fail(v, "rules." + k, "unknown key (expected roots, drop, rename, output_root)");
        }
    });
    return rules;
}

} // namespace

Config load_config(const std::filesystem::path& file) {
    Config config;
    config.file = file;
    YAML::Node root;
    try {
        root = YAML::LoadFile(file.string());
    } catch (const YAML::BadFile&) {
        throw Error(ExitCode::Usage, file.string() + ": cannot read config file");
    } catch (const YAML::ParserException& e) {
        throw Error(ExitCode::Usage, file.string() + ":" + std::to_string(e.mark.line + 1) + ":" +
                                         std::to_string(e.mark.column + 1) + ": invalid YAML: " + e.msg);
    }
    if (root.IsNull()) return config;
    const Reader r(file);
    if (!root.IsMap()) r.fail(root, "<top>", "a config is a mapping of keys");
    const auto base = file.parent_path();
    for (const auto& kv : root) {
        const std::string key = r.scalar(kv.first, "<top>");
        const YAML::Node& v = kv.second;
        if (key == "plugin_paths") {
            for (const auto& p : r.list(v, key))
                config.plugin_paths.push_back(std::filesystem::path(p).is_absolute() ? std::filesystem::path(p)
                                                                                     : base / p);
        } else if (key == "plugins") {
            r.map(v, key, [&](const std::string& id, const YAML::Node& range) {
                const std::string text = r.scalar(range, "plugins." + id);
                try {
                    VersionRange check(text);
                } catch (const std::invalid_argument& e) {
                    r.fail(range, "plugins." + id, e.what());
                }
                config.selection.pins[id] = text;
            });
        } else if (key == "disabled") {
            for (const auto& id : r.list(v, key)) config.selection.disabled.insert(id);
        } else if (key == "priority") {
            config.priority = r.list(v, key);
        } else if (key == "plugin") {
            config.plugin = r.scalar(v, key);
        } else if (key == "format_version") {
            config.format_version = r.scalar(v, key);
        } else if (key == "options") {
            r.map(v, key, [&](const std::string& k, const YAML::Node& value) {
                config.options.emplace_back(k, r.scalar(value, "options." + k));
            });
        } else if (key == "output") {
            r.map(v, key, [&](const std::string& k, const YAML::Node& value) {
                const std::string text = r.scalar(value, "output." + k);
                if (k == "to") {
                    if (text != "pt" && text != "safetensors" && text != "diffusers" && text != "hf")
                        r.fail(value, "output.to", "expected pt, safetensors, diffusers or hf, got '" + text + "'");
                    config.output_format = text;
                } else if (k == "dtype") {
                    if (text != "keep" && text != "fp32" && text != "fp16" && text != "bf16")
                        r.fail(value, "output.dtype", "expected keep, fp32, fp16 or bf16, got '" + text + "'");
                    config.output_dtype = text;
                } else if (k == "shard_size") {
                    config.shard_size = text;
                } else if (k == "cached_writes") {
                    if (text != "true" && text != "false")
                        r.fail(value, "output.cached_writes", "expected true or false, got '" + text + "'");
                    config.cached_writes = text == "true";
                } else {
                    r.fail(value, "output." + k, "unknown key (expected to, dtype, shard_size or cached_writes)");
                }
            });
        } else if (key == "rules") {
            config.rules = read_rules(r, v);
        } else {
            r.fail(kv.first, key,
                   "unknown key (expected plugin_paths, plugins, disabled, priority, plugin, format_version, options, "
                   "output or rules)");
        }
    }
    return config;
}

} // namespace ckptconv::core
