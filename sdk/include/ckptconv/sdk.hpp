/**
 * @file sdk.hpp
 * @brief Header-only C++17 wrapper over ckptconv_plugin.h for plugin authors.
 *
 * Compiled into each plugin; nothing here crosses the ABI. It gives:
 * - IndexView / TensorView: typed, stride-correct access to the host's index;
 * - KeyPattern: key matching with `{name}` captures;
 * - RenameTable: ordered substring / prefix / regex rename rules;
 * - KeyMap: pairs of patterns naming one tensor in two layouts (both directions);
 * - count_layers(): 1 + the largest integer captured by a pattern;
 * - Plan / Expr: the plan DSL over the host's plan_* services;
 * - CKPTCONV_PLUGIN(Class, name): the entry point, with every exception turned
 *   into a status code and a message at the boundary.
 *
 * A plugin class provides:
 * @code
 * struct MyPlugin {
 *     static constexpr const char* kId = "my_family";
 *     static constexpr const char* kVersion = "1.0.0";
 *     static constexpr const char* kDescription = "one line";
 *     static constexpr const char* kFormatVersions[] = {"1", nullptr};
 *     ckptconv::sdk::Detection detect(const ckptconv::sdk::IndexView& index) const;
 *     void plan(const ckptconv::sdk::IndexView& index, const ckptconv::sdk::PlanRequest& request,
 *               ckptconv::sdk::Plan& plan) const;
 * };
 * CKPTCONV_PLUGIN(MyPlugin, my_family)
 * @endcode
 * and, optionally, how its model-parallel saves split tensors (ABI 1.5; see the partition namespace):
 * @code
 *     static constexpr ckptconv_partition_v1 kPartitions[] = {
 *         ckptconv::sdk::partition::column("*.query_key_value.weight", 3),
 *         ckptconv::sdk::partition::row("*.dense.weight")};
 * @endcode
 * and values the run wrote beside the save, read by the host into plan options (ABI 1.6):
 * @code
 *     static constexpr ckptconv_sidecar_v1 kSidecars[] = {ckptconv::sdk::sidecar_yaml(
 *         "training_config.yaml", "model.lora_config.alpha", "source.lora_alpha", 1)};
 * @endcode
 */
#ifndef CKPTCONV_SDK_HPP
#define CKPTCONV_SDK_HPP

#include <ckptconv/ckptconv_plugin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <iterator>
#include <map>
#include <optional>
#include <regex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

namespace ckptconv::sdk {

// ---------------------------------------------------------------- errors

/** Throw from detect()/plan() to fail the call with a status and message. */
class Error : public std::runtime_error {
  public:
    Error(int32_t status, const std::string& message) : std::runtime_error(message), status_(status) {}
    int32_t status() const noexcept { return status_; }

  private:
    int32_t status_;
};

/** The checkpoint is not what the rules expect (names the key and what was expected). */
inline Error invalid_data(const std::string& message) { return Error(CKPTCONV_E_INVALID_DATA, message); }
/** Recognised, but there are no rules for this case. */
inline Error unsupported(const std::string& message) { return Error(CKPTCONV_E_UNSUPPORTED, message); }

// ---------------------------------------------------------------- dtypes

/** Short lowercase dtype name ("f32", "bf16", ...), "invalid" for unknown codes. */
inline const char* dtype_name(uint32_t dtype) {
    switch (dtype) {
    case CKPTCONV_DTYPE_F64: return "f64";
    case CKPTCONV_DTYPE_F32: return "f32";
    case CKPTCONV_DTYPE_F16: return "f16";
    case CKPTCONV_DTYPE_BF16: return "bf16";
    case CKPTCONV_DTYPE_I64: return "i64";
    case CKPTCONV_DTYPE_I32: return "i32";
    case CKPTCONV_DTYPE_I16: return "i16";
    case CKPTCONV_DTYPE_I8: return "i8";
    case CKPTCONV_DTYPE_U8: return "u8";
    case CKPTCONV_DTYPE_BOOL: return "bool";
    case CKPTCONV_DTYPE_C64: return "c64";
    case CKPTCONV_DTYPE_C128: return "c128";
    case CKPTCONV_DTYPE_F8_E4M3FN: return "f8_e4m3fn";
    case CKPTCONV_DTYPE_F8_E5M2: return "f8_e5m2";
    case CKPTCONV_DTYPE_U16: return "u16";
    case CKPTCONV_DTYPE_U32: return "u32";
    case CKPTCONV_DTYPE_U64: return "u64";
    default: return "invalid";
    }
}

using Shape = std::vector<int64_t>;

/** "[3072, 16, 2, 2]" */
inline std::string shape_string(const Shape& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) {
        if (i) s += ", ";
        s += std::to_string(shape[i]);
    }
    return s + "]";
}

// ------------------------------------------------------------ index view

struct TensorView {
    std::string_view root; ///< path of the root holding it
    std::string_view key;  ///< key inside the root
    uint32_t dtype = CKPTCONV_DTYPE_INVALID;
    Shape shape;
    uint32_t flags = 0;
    uint64_t storage_group = 0;

    int64_t dim(int64_t i) const {
        const int64_t n = static_cast<int64_t>(shape.size());
        if (i < 0) i += n;
        if (i < 0 || i >= n)
            throw invalid_data("tensor '" + std::string(key) + "' has no dimension " + std::to_string(i));
        return shape[static_cast<size_t>(i)];
    }
};

struct RootView {
    std::string_view path;
    uint64_t first_tensor = 0;
    uint64_t tensor_count = 0;
    bool is_state_dict = false;
};

struct ExtraView {
    std::string_view path;
    std::string_view type;
};

/**
 * Stride-correct, copying view of a ckptconv_index_v1. Valid as long as the
 * index it was built from (i.e. during one detect()/plan() call).
 */
class IndexView {
  public:
    explicit IndexView(const ckptconv_index_v1* index) : raw_(index) {
        roots_.reserve(index->root_count);
        for (uint32_t r = 0; r < index->root_count; ++r) {
            const auto* root = element<ckptconv_root_v1>(index->roots, index->root_stride, r);
            roots_.push_back(RootView{root->path, root->first_tensor, root->tensor_count,
                                      (root->flags & CKPTCONV_ROOT_STATE_DICT) != 0});
        }
        tensors_.reserve(static_cast<size_t>(index->tensor_count));
        for (uint64_t t = 0; t < index->tensor_count; ++t) {
            const auto* tensor = element<ckptconv_tensor_v1>(index->tensors, index->tensor_stride, t);
            TensorView view;
            view.root = tensor->root < roots_.size() ? roots_[tensor->root].path : std::string_view();
            view.key = tensor->key;
            view.dtype = tensor->dtype;
            view.shape.assign(tensor->shape, tensor->shape + tensor->ndim);
            view.flags = tensor->flags;
            view.storage_group = tensor->storage_group;
            tensors_.push_back(std::move(view));
        }
        for (uint32_t e = 0; e < index->extra_count; ++e) {
            const auto* extra = element<ckptconv_extra_v1>(index->extras, index->extra_stride, e);
            extras_.push_back(ExtraView{extra->path, extra->type});
        }
    }

    std::string_view file_path() const { return raw_->file_path ? raw_->file_path : ""; }
    std::string_view container() const { return raw_->container ? raw_->container : ""; }
    const std::vector<RootView>& roots() const { return roots_; }
    const std::vector<TensorView>& tensors() const { return tensors_; }
    const std::vector<ExtraView>& extras() const { return extras_; }
    const ckptconv_index_v1* raw() const { return raw_; }

    /** The root with this path, or nullptr. */
    const RootView* root(std::string_view path) const {
        for (const auto& r : roots_)
            if (r.path == path) return &r;
        return nullptr;
    }

    /** Tensors of one root, in checkpoint order. */
    std::vector<const TensorView*> tensors_of(const RootView& root) const {
        std::vector<const TensorView*> out;
        for (uint64_t i = root.first_tensor; i < root.first_tensor + root.tensor_count && i < tensors_.size(); ++i)
            out.push_back(&tensors_[static_cast<size_t>(i)]);
        return out;
    }

    /** A tensor by root path and key, or nullptr. */
    const TensorView* find(std::string_view root_path, std::string_view key) const {
        if (lookup_.empty()) {
            for (const auto& t : tensors_) lookup_.emplace(join(t.root, t.key), &t);
        }
        auto it = lookup_.find(join(root_path, key));
        return it == lookup_.end() ? nullptr : it->second;
    }

    /** A tensor that must exist; otherwise an invalid-data error naming it. */
    const TensorView& require(std::string_view root_path, std::string_view key) const {
        if (const auto* t = find(root_path, key)) return *t;
        throw invalid_data("missing tensor '" + std::string(key) + "' in root '" + std::string(root_path) + "'");
    }

    bool has_extra(std::string_view path) const {
        return std::any_of(extras_.begin(), extras_.end(), [&](const ExtraView& e) { return e.path == path; });
    }

  private:
    template <class T> static const T* element(const T* base, uint32_t stride, uint64_t i) {
        return reinterpret_cast<const T*>(reinterpret_cast<const unsigned char*>(base) + stride * i);
    }
    static std::string join(std::string_view root, std::string_view key) {
        std::string s(root);
        s.push_back('\0');
        s.append(key);
        return s;
    }

    const ckptconv_index_v1* raw_;
    std::vector<RootView> roots_;
    std::vector<TensorView> tensors_;
    std::vector<ExtraView> extras_;
    mutable std::unordered_map<std::string, const TensorView*> lookup_;
};

// ----------------------------------------------------------- key matching

/** True if `key` begins with `prefix` (C++17 has no string_view::starts_with). */
inline bool starts_with(std::string_view key, std::string_view prefix) {
    return key.substr(0, prefix.size()) == prefix;
}

/** True if `key` ends with `suffix`: anchored suffix matching, e.g. a tower found under any wrapper prefix. */
inline bool ends_with(std::string_view key, std::string_view suffix) {
    return key.size() >= suffix.size() && key.substr(key.size() - suffix.size()) == suffix;
}

/** Values captured by a KeyPattern, in pattern order. */
class Captures {
  public:
    void set(std::string name, std::string value) { items_.emplace_back(std::move(name), std::move(value)); }
    /** The captured text; throws if the pattern has no such capture. */
    const std::string& operator[](std::string_view name) const {
        for (const auto& [n, v] : items_)
            if (n == name) return v;
        throw Error(CKPTCONV_E_INTERNAL, "pattern has no capture '" + std::string(name) + "'");
    }
    /** The capture as a non-negative integer, or -1 if it is not one. */
    int64_t integer(std::string_view name) const {
        const std::string& v = (*this)[name];
        if (v.empty() || v.size() > 18 || !std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; }))
            return -1;
        return std::stoll(v);
    }
    const std::vector<std::pair<std::string, std::string>>& items() const { return items_; }

  private:
    std::vector<std::pair<std::string, std::string>> items_;
};

/**
 * A key pattern such as "transformer.layers.{i}.attention.query_key_value.{wb}".
 * `{name}` captures one or more characters other than '.'; `{*name}` captures
 * any (possibly empty) text, dots included. Everything else is literal.
 */
class KeyPattern {
  public:
    explicit KeyPattern(std::string_view pattern) : text_(pattern) {
        size_t i = 0;
        while (i < pattern.size()) {
            if (pattern[i] == '{') {
                const size_t close = pattern.find('}', i);
                if (close == std::string_view::npos)
                    throw Error(CKPTCONV_E_INTERNAL, "unclosed '{' in key pattern '" + text_ + "'");
                Part part;
                part.capture = true;
                std::string_view name = pattern.substr(i + 1, close - i - 1);
                if (!name.empty() && name[0] == '*') {
                    part.greedy = true;
                    name.remove_prefix(1);
                }
                if (name.empty()) throw Error(CKPTCONV_E_INTERNAL, "empty capture in key pattern '" + text_ + "'");
                part.text = std::string(name);
                parts_.push_back(std::move(part));
                i = close + 1;
            } else {
                const size_t next = pattern.find('{', i);
                const size_t end = next == std::string_view::npos ? pattern.size() : next;
                parts_.push_back(Part{std::string(pattern.substr(i, end - i)), false, false});
                i = end;
            }
        }
    }

    /** Captures if the whole key matches. */
    std::optional<Captures> match(std::string_view key) const { return run(key, true); }
    /** Captures if the pattern matches a prefix of the key. */
    std::optional<Captures> match_prefix(std::string_view key) const { return run(key, false); }

    /** The pattern with its captures replaced by `values` (each capture must be present). */
    std::string format(const Captures& values) const {
        std::string out;
        for (const auto& p : parts_) out += p.capture ? values[p.text] : p.text;
        return out;
    }
    const std::string& text() const { return text_; }

  private:
    struct Part {
        std::string text;
        bool capture = false;
        bool greedy = false;
    };

    std::optional<Captures> run(std::string_view key, bool whole) const {
        Captures caps;
        if (step(0, key, 0, whole, caps)) return caps;
        return std::nullopt;
    }

    // Backtracking over captures; patterns are short, so this stays cheap.
    bool step(size_t part, std::string_view key, size_t pos, bool whole, Captures& caps) const {
        if (part == parts_.size()) return !whole || pos == key.size();
        const Part& p = parts_[part];
        if (!p.capture) {
            if (key.substr(pos, p.text.size()) != p.text) return false;
            return step(part + 1, key, pos + p.text.size(), whole, caps);
        }
        size_t limit = key.size();
        if (!p.greedy) {
            const size_t dot = key.find('.', pos);
            limit = dot == std::string_view::npos ? key.size() : dot;
        }
        const size_t min_end = p.greedy ? pos : pos + 1;
        for (size_t end = limit + 1; end-- > min_end;) {
            Captures trial = caps;
            trial.set(p.text, std::string(key.substr(pos, end - pos)));
            if (step(part + 1, key, end, whole, trial)) {
                caps = std::move(trial);
                return true;
            }
            if (end == 0) break;
        }
        return false;
    }

    std::string text_;
    std::vector<Part> parts_;
};

/**
 * Ordered pairs of key patterns that name the same tensor in two layouts, e.g.
 * {"encoder.layers.{i}.ffn.fc1.{wb}", "encoder.layers.{i}.fc1.{wb}"}. The first
 * pair whose side matches a key maps it to the other side, so one table serves
 * both directions of a conversion and the two cannot drift apart.
 */
class KeyMap {
  public:
    KeyMap(std::initializer_list<std::pair<const char*, const char*>> pairs) {
        for (const auto& [a, b] : pairs) pairs_.emplace_back(KeyPattern(a), KeyPattern(b));
    }
    /** The B-side name of A-side `key`, if a pair matches. */
    std::optional<std::string> forward(std::string_view key) const { return map(key, true); }
    /** The A-side name of B-side `key`, if a pair matches. */
    std::optional<std::string> backward(std::string_view key) const { return map(key, false); }

  private:
    std::optional<std::string> map(std::string_view key, bool a_to_b) const {
        for (const auto& [a, b] : pairs_)
            if (auto c = (a_to_b ? a : b).match(key)) return (a_to_b ? b : a).format(*c);
        return std::nullopt;
    }
    std::vector<std::pair<KeyPattern, KeyPattern>> pairs_;
};

/**
 * 1 + the largest integer captured as `capture` by `pattern` (prefix match)
 * over the keys of `root`; 0 when nothing matches. E.g. layers from
 * count_layers(view, root, KeyPattern("transformer.layers.{i}."), "i").
 */
inline int64_t count_layers(const IndexView& index, const RootView& root, const KeyPattern& pattern,
                            std::string_view capture = "i") {
    int64_t count = 0;
    for (const TensorView* t : index.tensors_of(root)) {
        if (auto caps = pattern.match_prefix(t->key)) {
            const int64_t n = caps->integer(capture);
            if (n >= 0) count = std::max(count, n + 1);
        }
    }
    return count;
}

// ----------------------------------------------------------- rename table

/**
 * Ordered rename rules, applied one after another to the whole key (the
 * semantics of the Python conversion scripts: each rule sees the result of
 * the previous ones, so order matters).
 */
class RenameTable {
  public:
    /** Replace every occurrence of `from` (Python str.replace). */
    RenameTable& replace(std::string from, std::string to) {
        rules_.push_back(Rule{Kind::Substring, std::move(from), std::move(to), {}});
        return *this;
    }
    /** Replace `from` only at the start of the key. */
    RenameTable& prefix(std::string from, std::string to) {
        rules_.push_back(Rule{Kind::Prefix, std::move(from), std::move(to), {}});
        return *this;
    }
    /** std::regex_replace with ECMAScript syntax; `$1` refers to groups. */
    RenameTable& regex(const std::string& pattern, std::string format) {
        rules_.push_back(Rule{Kind::Regex, pattern, std::move(format), std::regex(pattern)});
        return *this;
    }

    std::string apply(std::string key) const {
        for (const auto& r : rules_) {
            switch (r.kind) {
            case Kind::Substring:
                if (!r.from.empty()) key = replace_all(key, r.from, r.to);
                break;
            case Kind::Prefix:
                if (key.compare(0, r.from.size(), r.from) == 0) key = r.to + key.substr(r.from.size());
                break;
            case Kind::Regex: key = std::regex_replace(key, r.re, r.to); break;
            }
        }
        return key;
    }
    size_t size() const { return rules_.size(); }

  private:
    enum class Kind { Substring, Prefix, Regex };
    struct Rule {
        Kind kind;
        std::string from;
        std::string to;
        std::regex re;
    };
    static std::string replace_all(const std::string& s, const std::string& from, const std::string& to) {
        std::string out;
        size_t pos = 0;
        for (size_t hit; (hit = s.find(from, pos)) != std::string::npos; pos = hit + from.size()) {
            out.append(s, pos, hit - pos);
            out += to;
        }
        out.append(s, pos, std::string::npos);
        return out;
    }
    std::vector<Rule> rules_;
};

// -------------------------------------------------------------- partitions

/** Rules for a plugin's `kPartitions` table (ckptconv_partition_v1): the first whose glob matches a key decides. */
namespace partition {
constexpr ckptconv_partition_v1 rule(uint32_t kind, const char* key_glob, uint32_t stride, const char* reason) {
    return ckptconv_partition_v1{sizeof(ckptconv_partition_v1), kind, stride, key_glob, reason};
}
/** Split along dim 0 in `stride` blocks per rank, merged block by block (3 for a fused Q/K/V). */
constexpr ckptconv_partition_v1 column(const char* key_glob, uint32_t stride = 1) {
    return rule(CKPTCONV_PARTITION_COLUMN, key_glob, stride, nullptr);
}
/** Split along the last dim (a row-parallel weight; its bias is replicated). */
constexpr ckptconv_partition_v1 row(const char* key_glob) { return rule(CKPTCONV_PARTITION_ROW, key_glob, 1, nullptr); }
/** Split along dim 0, ranks in order (a vocab-parallel embedding). */
constexpr ckptconv_partition_v1 vocab(const char* key_glob) {
    return rule(CKPTCONV_PARTITION_VOCAB, key_glob, 1, nullptr);
}
/** Whole and byte-equal on every rank (the default for keys no rule matches). */
constexpr ckptconv_partition_v1 replicated(const char* key_glob) {
    return rule(CKPTCONV_PARTITION_REPLICATED, key_glob, 1, nullptr);
}
/** No well-defined merge: a model-parallel save holding such a key is refused with `reason`. */
constexpr ckptconv_partition_v1 refuse(const char* key_glob, const char* reason) {
    return rule(CKPTCONV_PARTITION_REFUSE, key_glob, 1, reason);
}
} // namespace partition

/**
 * A value for a plugin's `kSidecars` table (ckptconv_sidecar_v1): the scalar at `yaml_path` of the YAML file
 * `file_name` found beside the input or up to `parents` folders above it, passed to plan() as `option`.
 */
constexpr ckptconv_sidecar_v1 sidecar_yaml(const char* file_name, const char* yaml_path, const char* option,
                                           uint32_t parents = 0) {
    return ckptconv_sidecar_v1{sizeof(ckptconv_sidecar_v1), parents, file_name, yaml_path, option};
}

// -------------------------------------------------------------- detection

/** What detect() returns; the trampoline copies it into the C result. */
struct Detection {
    int32_t score = CKPTCONV_SCORE_NO;
    std::string format_version;
    std::string variant;
    std::string target;
    std::string reason;

    static Detection no(std::string why = {}) { return Detection{CKPTCONV_SCORE_NO, {}, {}, {}, std::move(why)}; }
};

// -------------------------------------------------------------------- plan

/** A plan expression handle. */
struct Expr {
    ckptconv_expr handle = -1;
};

/** A JSON string literal (quotes and escapes, control characters as Python's json.dumps writes them). */
inline std::string json_string(std::string_view text) {
    std::string out = "\"";
    for (const char c : text) {
        switch (c) {
        case '"': out += "\\\""; break;
        case '\\': out += "\\\\"; break;
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        case '\b': out += "\\b"; break;
        case '\f': out += "\\f"; break;
        default:
            if (static_cast<unsigned char>(c) < 0x20) {
                char esc[16];
                std::snprintf(esc, sizeof esc, "\\u%04x", static_cast<unsigned>(c));
                out += esc;
            } else {
                out.push_back(c);
            }
        }
    }
    return out + "\"";
}

/**
 * A Python value for a non-tensor entry of a pt output (Plan::value): None,
 * bool, int, float, str, list, dict with str keys in insertion order, or an
 * argparse.Namespace. Built in code and passed to the host as JSON, so a
 * plugin needs no JSON library.
 */
class Value {
  public:
    Value() : json_("null") {}
    Value(bool b) : json_(b ? "true" : "false") {}         // NOLINT: implicit by design
    Value(int v) : json_(std::to_string(v)) {}             // NOLINT
    Value(int64_t v) : json_(std::to_string(v)) {}         // NOLINT
    Value(double v) : json_(float_text(v)) {}              // NOLINT
    Value(const char* s) : json_(json_string(s)) {}        // NOLINT
    Value(const std::string& s) : json_(json_string(s)) {} // NOLINT
    using Members = std::vector<std::pair<std::string, Value>>;
    static Value list(const std::vector<Value>& items) {
        std::string j = "[";
        for (size_t i = 0; i < items.size(); ++i) j += (i ? "," : "") + items[i].json_;
        return raw(j + "]");
    }
    static Value dict(const Members& members) {
        std::string j = "{";
        for (size_t i = 0; i < members.size(); ++i)
            j += (i ? "," : "") + json_string(members[i].first) + ":" + members[i].second.json_;
        return raw(j + "}");
    }
    /** argparse.Namespace(**members), as fairseq's `args` and legacy `cfg.model` are. */
    static Value ns(const Members& members) { return raw("{\"__namespace__\":" + dict(members).json_ + "}"); }
    const std::string& json() const { return json_; }

  private:
    static Value raw(std::string j) {
        Value v;
        v.json_ = std::move(j);
        return v;
    }
    static std::string float_text(double v) { // the shortest text that reads back as `v`, as Python prints it
        char buf[32];
        for (int digits = 15; digits <= 17; ++digits) {
            std::snprintf(buf, sizeof buf, "%.*g", digits, v);
            if (std::strtod(buf, nullptr) == v) break;
        }
        std::string t = buf;
        if (t.find_first_of(".eEn") == std::string::npos) t += ".0"; // stays a float in Python
        return t;
    }
    std::string json_;
};

/** What the user asked plan() for. */
struct PlanRequest {
    std::string format_version;
    std::string variant;
    std::string output_format;
    std::vector<std::pair<std::string, std::string>> options;

    /** The value of --option `key`, or `fallback`. */
    std::string option(std::string_view key, std::string fallback = {}) const {
        for (const auto& [k, v] : options)
            if (k == key) return v;
        return fallback;
    }
    /** --option `key` as a positive integer, `fallback` when absent; invalid-argument error otherwise. */
    int64_t positive_option(std::string_view key, int64_t fallback) const {
        if (!has_option(key)) return fallback;
        const std::string v = option(key);
        if (v.empty() || v.size() > 18 ||
            !std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; }) || std::stoll(v) == 0)
            throw Error(CKPTCONV_E_INVALID_ARGUMENT,
                        "--option " + std::string(key) + "=" + v + ": expected a positive whole number");
        return std::stoll(v);
    }
    /** --option `key` as a positive finite number, `fallback` when absent; invalid-argument error otherwise. */
    double positive_real_option(std::string_view key, double fallback) const {
        if (!has_option(key)) return fallback;
        const std::string v = option(key);
        char* end = nullptr;
        const double x = v.empty() ? 0 : std::strtod(v.c_str(), &end);
        if (v.empty() || end != v.c_str() + v.size() || !(x > 0) || x > 1e12)
            throw Error(CKPTCONV_E_INVALID_ARGUMENT,
                        "--option " + std::string(key) + "=" + v + ": expected a positive number");
        return x;
    }
    /** --option `key` when it is one of `allowed`, `fallback` when absent; invalid-argument error otherwise. */
    std::string one_of(std::string_view key, const std::string& fallback,
                       std::initializer_list<const char*> allowed) const {
        const std::string value = option(key, fallback);
        for (const char* a : allowed)
            if (value == a) return value;
        std::string list;
        for (const char* a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
        throw Error(CKPTCONV_E_INVALID_ARGUMENT,
                    "--option " + std::string(key) + "=" + value + ": expected one of " + list);
    }
    bool has_option(std::string_view key) const {
        return std::any_of(options.begin(), options.end(), [&](const auto& kv) { return kv.first == key; });
    }
};

/**
 * Attention heads, which no weight tells (q/k/v are [D, D] for any count):
 * --option heads=N, else the release table's `preset` (0 when the detected
 * size is no release). Without either the conversion is refused naming the
 * choice: never a guess.
 */
inline int64_t attention_heads(const PlanRequest& request, int64_t preset, int64_t hidden, const std::string& variant) {
    const int64_t heads = request.positive_option("heads", preset);
    if (heads == 0)
        throw invalid_data("the attention head count is not in the weights and this " + variant + " model (width " +
                           std::to_string(hidden) + ") is no release size: pass --option heads=N (a divisor of " +
                           std::to_string(hidden) + ")");
    if (hidden % heads != 0)
        throw invalid_data("--option heads=" + std::to_string(heads) + " does not divide the width " +
                           std::to_string(hidden));
    return heads;
}

/**
 * The plan DSL: each method forwards to a host plan_* service. A refused op
 * throws Error(CKPTCONV_E_PLAN) after the host has recorded the message.
 */
class Plan {
  public:
    Plan(const ckptconv_host_v1* host, ckptconv_call* call) : host_(host), call_(call) {}

    Expr source(const std::string& root, const std::string& key) {
        return check(host_->plan_source(call_, root.c_str(), key.c_str()));
    }
    Expr chunk(Expr x, int64_t parts, int64_t index, int64_t dim = 0) {
        return check(host_->plan_chunk(call_, x.handle, parts, index, dim));
    }
    Expr cat(const std::vector<Expr>& xs, int64_t dim = 0) {
        std::vector<ckptconv_expr> handles;
        for (const auto& x : xs) handles.push_back(x.handle);
        return check(host_->plan_cat(call_, handles.data(), static_cast<uint32_t>(handles.size()), dim));
    }
    Expr narrow(Expr x, int64_t dim, int64_t start, int64_t length) {
        return check(host_->plan_narrow(call_, x.handle, dim, start, length));
    }
    Expr pad(Expr x, int64_t dim, int64_t new_size) { return check(host_->plan_pad(call_, x.handle, dim, new_size)); }
    Expr reshape(Expr x, const Shape& shape) {
        return check(host_->plan_reshape(call_, x.handle, shape.data(), static_cast<uint32_t>(shape.size())));
    }
    Expr permute(Expr x, const Shape& dims) {
        return check(host_->plan_permute(call_, x.handle, dims.data(), static_cast<uint32_t>(dims.size())));
    }
    Expr cast(Expr x, uint32_t dtype) { return check(host_->plan_cast(call_, x.handle, dtype)); }
    Expr zeros(const Shape& shape, uint32_t dtype) {
        return check(host_->plan_zeros(call_, shape.data(), static_cast<uint32_t>(shape.size()), dtype));
    }
    Expr constant(const Shape& shape, uint32_t dtype, const void* data, uint64_t nbytes) {
        return check(
            host_->plan_constant(call_, shape.data(), static_cast<uint32_t>(shape.size()), dtype, data, nbytes));
    }

    void output(const std::string& root, const std::string& key, Expr x) {
        status(host_->plan_output(call_, root.c_str(), key.c_str(), x.handle));
    }
    void alias(const std::string& root, const std::string& key, const std::string& target_root,
               const std::string& target_key) {
        status(host_->plan_alias(call_, root.c_str(), key.c_str(), target_root.c_str(), target_key.c_str()));
    }
    void drop(const std::string& root, const std::string& key, const std::string& reason) {
        status(host_->plan_drop(call_, root.c_str(), key.c_str(), reason.c_str()));
    }
    void expect(const std::string& root, const std::string& key, const Shape& shape) {
        status(host_->plan_expect(call_, root.c_str(), key.c_str(), shape.data(), static_cast<uint32_t>(shape.size())));
    }
    /** Target spec as a pattern with a count: `key_pattern`'s `{i}` takes 0..count-1. */
    void expect_each(const std::string& root, const std::string& key_pattern, int64_t count, const Shape& shape) {
        const size_t at = key_pattern.find("{i}");
        if (at == std::string::npos) throw Error(CKPTCONV_E_INVALID_ARGUMENT, "expect_each: no {i} in " + key_pattern);
        for (int64_t i = 0; i < count; ++i)
            expect(root, std::string(key_pattern).replace(at, 3, std::to_string(i)), shape);
    }
    void file(const std::string& relative_path, const std::string& content) {
        status(host_->plan_file(call_, relative_path.c_str(), content.data(), content.size()));
    }
    void target(const std::string& name, const std::string& component_dir = {}) {
        status(host_->plan_target(call_, name.c_str(), component_dir.c_str()));
    }
    void keep_extras(bool keep) { status(host_->plan_keep_extras(call_, keep ? 1 : 0)); }
    /** The drops and renames of rule file `name` (or of the user's config), applied by the host. */
    void rules(const std::string& name) {
        if (host_->struct_size < offsetof(ckptconv_host_v1, plan_rules) + sizeof host_->plan_rules)
            throw Error(CKPTCONV_E_UNSUPPORTED, "this ckptconv host predates rule files (ABI 1.1)");
        status(host_->plan_rules(call_, name.c_str()));
    }
    /** A non-tensor entry of a pt output (see Value); a host older than ABI 1.3 cannot write it. */
    void value(const std::string& key, const Value& v) {
        if (host_->struct_size < offsetof(ckptconv_host_v1, plan_value) + sizeof host_->plan_value)
            throw Error(CKPTCONV_E_UNSUPPORTED, "this ckptconv host predates non-tensor outputs (ABI 1.3)");
        status(host_->plan_value(call_, key.c_str(), v.json().c_str()));
    }
    /** Declares a root the model of a training save (see plan_model_root); a no-op before ABI 1.4. */
    void model_root(const std::string& root) {
        if (host_->struct_size >= offsetof(ckptconv_host_v1, plan_model_root) + sizeof host_->plan_model_root)
            status(host_->plan_model_root(call_, root.c_str()));
    }
    /** `w` + `scale`·(`b`·`a`) with SAT's merge arithmetic (see plan_add_lora). */
    Expr add_lora(Expr w, Expr a, Expr b, double scale) {
        if (host_->struct_size < offsetof(ckptconv_host_v1, plan_add_lora) + sizeof host_->plan_add_lora)
            throw Error(CKPTCONV_E_UNSUPPORTED, "this ckptconv host predates LoRA merges (ABI 1.4)");
        return check(host_->plan_add_lora(call_, w.handle, a.handle, b.handle, scale));
    }
    /** A string entry of a safetensors output's __metadata__ (see plan_metadata). */
    void metadata(const std::string& key, const std::string& value) {
        if (host_->struct_size < offsetof(ckptconv_host_v1, plan_metadata) + sizeof host_->plan_metadata)
            throw Error(CKPTCONV_E_UNSUPPORTED, "this ckptconv host predates plugin metadata (ABI 1.4)");
        status(host_->plan_metadata(call_, key.c_str(), value.c_str()));
    }
    /** A line for the user in the conversion report; dropped silently by a host older than ABI 1.2. */
    void note(const std::string& text) {
        if (host_->struct_size >= offsetof(ckptconv_host_v1, plan_note) + sizeof host_->plan_note)
            status(host_->plan_note(call_, text.c_str()));
    }

    // ---- helpers for common shapes of rules

    /** A tensor of `shape` filled with `value` (float dtypes and I64), e.g. a fresh LayerNorm's ones. */
    Expr full(const Shape& shape, uint32_t dtype, double value) {
        const std::string one = scalar_bytes(dtype, value);
        uint64_t count = 1;
        for (int64_t d : shape) count *= static_cast<uint64_t>(d);
        std::string bytes;
        bytes.reserve(one.size() * count);
        for (uint64_t i = 0; i < count; ++i) bytes += one;
        return constant(shape, dtype, bytes.data(), bytes.size());
    }

    /** `output_keys.size()` equal pieces of `x` along `dim`, each emitted under its key. */
    void split(Expr x, const std::string& out_root, const std::vector<std::string>& output_keys, int64_t dim = 0) {
        const auto parts = static_cast<int64_t>(output_keys.size());
        for (int64_t i = 0; i < parts; ++i)
            output(out_root, output_keys[static_cast<size_t>(i)], chunk(x, parts, i, dim));
    }
    /** Concatenation of several sources emitted as one output. */
    void fuse(const std::vector<Expr>& xs, const std::string& out_root, const std::string& out_key, int64_t dim = 0) {
        output(out_root, out_key, cat(xs, dim));
    }
    void log(int32_t level, const std::string& message) { host_->log(call_, level, message.c_str()); }

  private:
    /** IEEE binary16 of a float's bits, rounded to nearest even. */
    static uint16_t half_bits(uint32_t x) {
        const uint32_t sign = (x >> 16) & 0x8000u;
        const uint32_t biased = (x >> 23) & 0xFFu;
        uint32_t mant = x & 0x7FFFFFu;
        if (biased == 0xFFu) return static_cast<uint16_t>(sign | 0x7C00u | (mant ? 0x200u : 0u));
        const int32_t exp = static_cast<int32_t>(biased) - 127 + 15;
        if (exp >= 31) return static_cast<uint16_t>(sign | 0x7C00u);
        uint32_t shift = 13;
        uint32_t half = (static_cast<uint32_t>(exp > 0 ? exp : 0) << 10);
        if (exp <= 0) { // subnormal: the implicit bit becomes explicit
            if (exp < -10) return static_cast<uint16_t>(sign);
            mant |= 0x800000u;
            shift = static_cast<uint32_t>(14 - exp);
        }
        half |= mant >> shift;
        const uint32_t rem = mant & ((1u << shift) - 1u);
        const uint32_t mid = 1u << (shift - 1u);
        if (rem > mid || (rem == mid && (half & 1u))) ++half; // a carry rolls into the exponent, as it should
        return static_cast<uint16_t>(sign | half);
    }
    static std::string scalar_bytes(uint32_t dtype, double value) {
        auto raw = [](auto v) { return std::string(reinterpret_cast<const char*>(&v), sizeof v); };
        const auto f = static_cast<float>(value);
        uint32_t bits = 0;
        std::memcpy(&bits, &f, sizeof bits);
        switch (dtype) {
        case CKPTCONV_DTYPE_F64: return raw(value);
        case CKPTCONV_DTYPE_F32: return raw(f);
        case CKPTCONV_DTYPE_I64: return raw(static_cast<int64_t>(value));
        case CKPTCONV_DTYPE_BF16: // the upper half of the float, rounded to nearest even
            return raw(static_cast<uint16_t>((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16));
        case CKPTCONV_DTYPE_F16: return raw(half_bits(bits));
        default:
            throw Error(CKPTCONV_E_UNSUPPORTED, std::string("full(): no fill value for dtype ") + dtype_name(dtype));
        }
    }
    Expr check(ckptconv_expr h) {
        if (h < 0) throw Error(CKPTCONV_E_PLAN, {});
        return Expr{h};
    }
    void status(int32_t s) {
        if (s != CKPTCONV_OK) throw Error(s, {});
    }
    const ckptconv_host_v1* host_;
    ckptconv_call* call_;
};

// ----------------------------------------------------- target-layout helpers

/** An expected output: the target spec entry plugins declare with Plan::expect. */
using TargetKey = std::pair<std::string, Shape>;

/**
 * Declares `target` as the target spec of output root `root` and emits the
 * matching `outputs` in the target's order (the order the target code's
 * state_dict() has, which is the order safetensors shards follow). Outputs the
 * target does not list are emitted last, so the plan check names them.
 * `aliases` maps a target key to an earlier one it is tied to (one storage).
 */
inline void emit_in_target_order(Plan& plan, const std::string& root, const std::vector<TargetKey>& target,
                                 std::map<std::string, Expr> outputs,
                                 const std::map<std::string, std::string>& aliases = {}) {
    for (const auto& [name, shape] : target) {
        plan.expect(root, name, shape);
        if (auto it = outputs.find(name); it != outputs.end()) {
            plan.output(root, name, it->second);
            outputs.erase(it);
        } else if (auto tied = aliases.find(name); tied != aliases.end()) {
            plan.alias(root, name, root, tied->second); // tied weights stay one tensor
        }
    }
    for (const auto& [name, x] : outputs) plan.output(root, name, x);
}

/** A list value of json_object, laid out as json.dumps(indent=2) lays out a list inside an object. */
inline std::string json_array(const std::vector<std::string>& items) {
    if (items.empty()) return "[]";
    std::string out = "[\n";
    for (size_t i = 0; i < items.size(); ++i) out += "    " + items[i] + (i + 1 < items.size() ? ",\n" : "\n");
    return out + "  ]";
}

/**
 * A JSON object written as Python's json.dumps(obj, indent=2, sort_keys=True)
 * writes it (how diffusers saves config.json), plus a final newline. Values
 * are JSON text: "true", "0.7", json_string("silu"), json_array({"128", "256"}).
 */
inline std::string json_object(std::vector<std::pair<std::string, std::string>> fields) {
    std::sort(fields.begin(), fields.end());
    std::string out = "{\n";
    for (size_t i = 0; i < fields.size(); ++i)
        out += "  " + json_string(fields[i].first) + ": " + fields[i].second + (i + 1 < fields.size() ? ",\n" : "\n");
    return out + "}\n";
}

// -------------------------------------------------------------- trampoline

namespace detail {

inline void copy_text(char* dst, size_t cap, const std::string& src) {
    const size_t n = std::min(cap - 1, src.size());
    std::memcpy(dst, src.data(), n);
    dst[n] = '\0';
}

/** Runs `body`, turning any exception into a status plus host->set_error. */
template <class F> int32_t guarded(const ckptconv_host_v1* host, ckptconv_call* call, F&& body) noexcept {
    try {
        return body();
    } catch (const Error& e) {
        // An empty message means the host already recorded one (a refused plan op).
        if (*e.what() && host && host->set_error) host->set_error(call, e.status(), e.what());
        return e.status();
    } catch (const std::bad_alloc&) {
        if (host && host->set_error) host->set_error(call, CKPTCONV_E_NOMEM, "out of memory");
        return CKPTCONV_E_NOMEM;
    } catch (const std::exception& e) {
        if (host && host->set_error) host->set_error(call, CKPTCONV_E_INTERNAL, e.what());
        return CKPTCONV_E_INTERNAL;
    } catch (...) {
        if (host && host->set_error) host->set_error(call, CKPTCONV_E_INTERNAL, "unknown exception in plugin");
        return CKPTCONV_E_INTERNAL;
    }
}

/** P::kSidecars when the plugin declares one, else none. */
template <class P, class = void> struct SidecarsOf {
    static constexpr const ckptconv_sidecar_v1* data() { return nullptr; }
    static constexpr uint32_t count() { return 0; }
};
template <class P> struct SidecarsOf<P, std::void_t<decltype(P::kSidecars)>> {
    static constexpr const ckptconv_sidecar_v1* data() { return P::kSidecars; }
    static constexpr uint32_t count() { return static_cast<uint32_t>(std::size(P::kSidecars)); }
};

/** P::kPartitions when the plugin declares one, else none. */
template <class P, class = void> struct PartitionsOf {
    static constexpr const ckptconv_partition_v1* data() { return nullptr; }
    static constexpr uint32_t count() { return 0; }
};
template <class P> struct PartitionsOf<P, std::void_t<decltype(P::kPartitions)>> {
    static constexpr const ckptconv_partition_v1* data() { return P::kPartitions; }
    static constexpr uint32_t count() { return static_cast<uint32_t>(std::size(P::kPartitions)); }
};

template <class P> struct Adapter {
    static int32_t init(const ckptconv_host_v1* host, ckptconv_call* call, void** state) {
        return guarded(host, call, [&] {
            *state = new P();
            return CKPTCONV_OK;
        });
    }
    static void shutdown(void* state) { delete static_cast<P*>(state); }

    static int32_t detect(void* state, const ckptconv_host_v1* host, ckptconv_call* call,
                          const ckptconv_index_v1* index, ckptconv_detect_result_v1* out) {
        return guarded(host, call, [&] {
            const IndexView view(index);
            const Detection d = static_cast<const P*>(state)->detect(view);
            out->score = std::clamp<int32_t>(d.score, CKPTCONV_SCORE_NO, CKPTCONV_SCORE_CERTAIN);
            copy_text(out->format_version, sizeof out->format_version, d.format_version);
            copy_text(out->variant, sizeof out->variant, d.variant);
            copy_text(out->target, sizeof out->target, d.target);
            copy_text(out->reason, sizeof out->reason, d.reason);
            return CKPTCONV_OK;
        });
    }

    static int32_t plan(void* state, const ckptconv_host_v1* host, ckptconv_call* call, const ckptconv_index_v1* index,
                        const ckptconv_plan_request_v1* request) {
        return guarded(host, call, [&] {
            const IndexView view(index);
            PlanRequest req;
            req.format_version = request->format_version ? request->format_version : "";
            req.variant = request->variant ? request->variant : "";
            req.output_format = request->output_format ? request->output_format : "";
            for (uint32_t i = 0; i < request->option_count; ++i)
                req.options.emplace_back(request->options[i].key, request->options[i].value);
            Plan plan(host, call);
            static_cast<const P*>(state)->plan(view, req, plan);
            return CKPTCONV_OK;
        });
    }

    static const ckptconv_plugin_v1* descriptor() {
        static const ckptconv_plugin_v1 d = {sizeof(ckptconv_plugin_v1),
                                             CKPTCONV_ABI_VERSION,
                                             P::kId,
                                             P::kVersion,
                                             P::kDescription,
                                             P::kFormatVersions,
                                             &init,
                                             &shutdown,
                                             &detect,
                                             &plan,
                                             PartitionsOf<P>::data(),
                                             PartitionsOf<P>::count(),
                                             SidecarsOf<P>::data(),
                                             SidecarsOf<P>::count()};
        return &d;
    }
};

} // namespace detail
} // namespace ckptconv::sdk

/**
 * Defines the plugin's entry: `ckptconv_builtin_entry_<name>` always (for
 * static linking into tests and single-binary builds), and the exported
 * `ckptconv_plugin_entry_v1` when built as a loadable module
 * (CKPTCONV_PLUGIN_MODULE, set by ckptconv_add_plugin()).
 */
#define CKPTCONV_PLUGIN_BUILTIN_ENTRY(Class, name)                                                                     \
    extern "C" const ckptconv_plugin_v1* ckptconv_builtin_entry_##name(void) {                                         \
        return ::ckptconv::sdk::detail::Adapter<Class>::descriptor();                                                  \
    }
#ifdef CKPTCONV_PLUGIN_MODULE
#define CKPTCONV_PLUGIN(Class, name)                                                                                   \
    CKPTCONV_PLUGIN_BUILTIN_ENTRY(Class, name)                                                                         \
    extern "C" CKPTCONV_EXPORT const ckptconv_plugin_v1* ckptconv_plugin_entry_v1(void) {                              \
        return ckptconv_builtin_entry_##name();                                                                        \
    }
#else
#define CKPTCONV_PLUGIN(Class, name) CKPTCONV_PLUGIN_BUILTIN_ENTRY(Class, name)
#endif

#endif // CKPTCONV_SDK_HPP
