#include "core/host/SemVer.hpp"

#include <gtest/gtest.h>

namespace ckptconv::core {
namespace {

TEST(SemVer, ParsesFullPartialAndPrerelease) {
    EXPECT_EQ(SemVer::parse("1.2.3")->str(), "1.2.3");
    EXPECT_EQ(SemVer::parse("2")->str(), "2.0.0");
    EXPECT_EQ(SemVer::parse("1.4")->str(), "1.4.0");
    EXPECT_EQ(SemVer::parse("1.0.0-rc.1+build5")->str(), "1.0.0-rc.1");
    EXPECT_FALSE(SemVer::parse(""));
    EXPECT_FALSE(SemVer::parse("1.x"));
    EXPECT_FALSE(SemVer::parse("1.2.3.4"));
    EXPECT_FALSE(SemVer::parse("v1"));
}

TEST(SemVer, OrdersNumericallyWithPrereleasesFirst) {
    EXPECT_LT(*SemVer::parse("1.9.0"), *SemVer::parse("1.10.0"));
    EXPECT_LT(*SemVer::parse("1.0.0-rc.1"), *SemVer::parse("1.0.0"));
    EXPECT_EQ(*SemVer::parse("1.0"), *SemVer::parse("1.0.0"));
}

TEST(VersionRange, ExactAndComparisons) {
    EXPECT_TRUE(VersionRange("1.2.0").matches(*SemVer::parse("1.2.0")));
    EXPECT_FALSE(VersionRange("1.2.0").matches(*SemVer::parse("1.2.1")));
    const VersionRange r(">=1.1, <2");
    EXPECT_TRUE(r.matches(*SemVer::parse("1.1.0")));
    EXPECT_TRUE(r.matches(*SemVer::parse("1.9.9")));
    EXPECT_FALSE(r.matches(*SemVer::parse("2.0.0")));
    EXPECT_FALSE(r.matches(*SemVer::parse("1.0.9")));
    EXPECT_TRUE(VersionRange("^1.2").matches(*SemVer::parse("1.5.0")));
    EXPECT_FALSE(VersionRange("^1.2").matches(*SemVer::parse("2.0.0")));
    EXPECT_TRUE(VersionRange("~1.2").matches(*SemVer::parse("1.2.7")));
    EXPECT_FALSE(VersionRange("~1.2").matches(*SemVer::parse("1.3.0")));
}

TEST(VersionRange, RejectsNonsense) {
    EXPECT_THROW(VersionRange("latest"), std::invalid_argument);
    EXPECT_THROW(VersionRange(">=1, "), std::invalid_argument);
    EXPECT_THROW(VersionRange("=>1"), std::invalid_argument);
}

} // namespace
} // namespace ckptconv::core
