// Semantic versions of plugins and the ranges configs pin them with.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ckptconv::core {

struct SemVer {
    int major = 0;
    int minor = 0;
    int patch = 0;
    std::string prerelease; ///< "" for a release; releases sort after prereleases

    /** "1.2.3", "1.2.3-rc.1", "1.2" and "1" (missing parts are 0); build metadata ignored. */
    static std::optional<SemVer> parse(std::string_view text);
    std::string str() const;
    int compare(const SemVer& other) const;
    bool operator<(const SemVer& o) const { return compare(o) < 0; }
    bool operator==(const SemVer& o) const { return compare(o) == 0; }
};

/**
 * A comma-separated list of constraints, all of which must hold:
 * "1.2.0" or "=1.2.0" (exact), ">=1.1", "<2", ">1.0.0", "<=1.4", "^1.2" (same major), "~1.2" (same minor).
 */
class VersionRange {
  public:
    /** Throws std::invalid_argument naming the bad part. */
    explicit VersionRange(std::string_view text);
    bool matches(const SemVer& v) const;
    const std::string& text() const { return text_; }

  private:
    struct Constraint {
        std::string op;
        SemVer version;
    };
    std::string text_;
    std::vector<Constraint> constraints_;
};

} // namespace ckptconv::core
