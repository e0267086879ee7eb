#include "core/util/NameTable.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ckptconv::core {
namespace {

TEST(NameTable, FindsEveryNameAndReportsTheFirstHolderOfADuplicate) {
    std::vector<std::string> names;
    NameTable table; // starts small: grows through many rebuilds
    auto name_of = [&](uint32_t id) -> std::string_view { return names[id]; };
    for (uint32_t i = 0; i < 100000; ++i) {
        names.push_back("model.layers." + std::to_string(i) + ".weight");
        ASSERT_EQ(table.insert(names.back(), i, name_of), i);
    }
    EXPECT_EQ(table.size(), 100000u);
    // Names move (the vector reallocates, short strings live inline): the table keeps ids only.
    names.reserve(names.capacity() * 2);
    for (uint32_t i = 0; i < 100000; i += 997) EXPECT_EQ(table.find(names[i], name_of), i);
    EXPECT_FALSE(table.find("model.layers.100000.weight", name_of));
    EXPECT_FALSE(table.find("", name_of));
    names.push_back("model.layers.42.weight");
    EXPECT_EQ(table.insert(names.back(), 100000, name_of), 42u);
    EXPECT_EQ(table.size(), 100000u);
}

TEST(NameTable, TellsNamesApartThatShareAHashTag) {
    // Names equal but for one byte, and an empty name: compared in full, never by hash alone.
    std::vector<std::string> names = {"", "a", "b", std::string("a\0", 2), "ab", "ba"};
    NameTable table(2);
    auto name_of = [&](uint32_t id) -> std::string_view { return names[id]; };
    for (uint32_t i = 0; i < names.size(); ++i) EXPECT_EQ(table.insert(names[i], i, name_of), i);
    for (uint32_t i = 0; i < names.size(); ++i) EXPECT_EQ(table.find(names[i], name_of), i);
}

} // namespace
} // namespace ckptconv::core
