#include "core/util/JsonReader.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <random>

namespace ckptconv::core {
namespace {

bool reader_accepts(const std::string& text) {
    try {
        JsonReader json(text);
        json.skip_value();
        json.finish();
        return true;
    } catch (const JsonSyntaxError&) {
        return false;
    }
}

// nlohmann's parser is the oracle: both must accept and refuse the same documents.
void expect_agrees(const std::string& text) {
    EXPECT_EQ(reader_accepts(text), nlohmann::json::accept(text)) << "document: " << text;
}

TEST(JsonReader, AcceptsAndRefusesWhatAStrictParserDoes) {
    const char* cases[] = {"{}", "[]", "{\"a\":1}", " { \"a\" : [1, 2.5e-3, -0, true, false, null, \"x\"] } ",
                           "[[[[[]]]]]", "\"\\u00e9\\ud83d\\ude00\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"h\xc3\xa9\"",
                           "\"\xf0\x9f\x98\x80\"", "0", "-1", "1E+2",
                           // refused:
                           "", "{", "}", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "[1,]", "[,1]", "{,}",
                           "{\"a\":1 \"b\":2}", "01", "-", "1.", "1e", ".5", "+1", "tru", "nul", "True", "'a'", "\"a",
                           "\"\\x\"", "\"\\u12\"", "\"\\ud800\"", "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"\x01\"",
                           "\"\xc0\x80\"", "\"\xe0\x80\x80\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"", "\"\xff\"",
                           "\"\xc3\"", "{} {}", "[1] x", "{\"a\":[1}", "[{]}", "{1:2}", "NaN", "[1 2]"};
    for (const char* text : cases) expect_agrees(text);
    expect_agrees(std::string("\"a\0b\"", 5)); // a raw NUL is a control character
}

TEST(JsonReader, AgreesWithTheOracleOnMutatedDocuments) {
    const std::string seed =
        R"({"__metadata__":{"format":"pt"},"a.w":{"dtype":"F32","shape":[3,4],"data_offsets":[0,48]},)"
        R"("b\u00e9":{"dtype":"BF16","shape":[],"data_offsets":[48,50],"x":[1,{"y":null}]}})";
    const std::string alphabet = "{}[]:,\"\\0123456789.-+eEtrufalsn \x01\xc3\xa9\xff";
    std::mt19937 rng(1234);
    for (int i = 0; i < 20000; ++i) {
        std::string text = seed;
        const int edits = 1 + static_cast<int>(rng() % 3);
        for (int e = 0; e < edits; ++e) {
            const size_t at = rng() % text.size();
            switch (rng() % 3) {
            case 0: text[at] = alphabet[rng() % alphabet.size()]; break;
            case 1: text.erase(at, 1); break;
            default: text.insert(at, 1, alphabet[rng() % alphabet.size()]);
            }
        }
        expect_agrees(text);
        if (HasFailure()) return;
    }
}

TEST(JsonReader, ReadsMembersStringsAndIntegers) {
    JsonReader json(R"({"k\n\u00e9": [0, 18446744073709551615], "s": "plain", "t": "a\"b"})");
    json.begin_object();
    std::string_view key;
    ASSERT_TRUE(json.next_member(key));
    EXPECT_EQ(key, "k\n\xc3\xa9");
    json.begin_array();
    ASSERT_TRUE(json.next_element());
    EXPECT_EQ(json.unsigned_integer(), 0u);
    ASSERT_TRUE(json.next_element());
    EXPECT_EQ(json.unsigned_integer(), UINT64_MAX);
    EXPECT_FALSE(json.next_element());
    ASSERT_TRUE(json.next_member(key));
    EXPECT_EQ(key, "s");
    EXPECT_EQ(json.string(), "plain");
    ASSERT_TRUE(json.next_member(key));
    EXPECT_EQ(json.string(), "a\"b");
    EXPECT_FALSE(json.next_member(key));
    json.finish();
}

TEST(JsonReader, RefusesNumbersThatAreNotUnsigned64BitIntegers) {
    for (const char* text : {"-1", "1.5", "1e3", "18446744073709551616"}) {
        JsonReader json(text);
        EXPECT_THROW(json.unsigned_integer(), JsonSyntaxError) << text;
    }
    try {
        JsonReader json("[1, -7]");
        json.begin_array();
        json.next_element();
        json.unsigned_integer();
        json.next_element();
        json.unsigned_integer();
        FAIL();
    } catch (const JsonSyntaxError& e) {
        EXPECT_EQ(e.offset(), 4u);
        EXPECT_NE(std::string(e.what()).find("negative number -7"), std::string::npos);
    }
}

TEST(JsonReader, SkipsDeepNestingWithoutRecursion) {
    const std::string deep = std::string(200000, '[') + std::string(200000, ']');
    EXPECT_TRUE(reader_accepts(deep));
    EXPECT_FALSE(reader_accepts(std::string(200000, '[') + std::string(199999, ']')));
}

} // namespace
} // namespace ckptconv::core
