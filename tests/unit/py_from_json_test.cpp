#include "core/io/PickleAllowList.hpp"
#include "core/io/PyFromJson.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

namespace ckptconv::core {
namespace {

TEST(PyFromJson, BuildsPythonValuesAndNamespacesTheAllowListKeeps) {
    const PyRef v = py_from_json(
        R"({"args": {"__namespace__": {"arch": "roberta_base", "heads": 12, "p": 0.1, "tied": false, "x": null}},)"
        R"( "history": [{"num_updates": 0}]})");
    ASSERT_EQ(v->kind, PyKind::Dict);
    const PyRef args = v->dict_get("args");
    ASSERT_EQ(args->kind, PyKind::Object);
    EXPECT_EQ(args->callable->text, "argparse");
    EXPECT_EQ(args->callable->name, "Namespace");
    EXPECT_TRUE(args->via_newobj);
    ASSERT_EQ(args->state->kind, PyKind::Dict);
    EXPECT_EQ(args->state->entries.size(), 5u);
    EXPECT_EQ(args->state->dict_get("heads")->integer, 12);
    EXPECT_EQ(args->state->dict_get("p")->kind, PyKind::Float);
    EXPECT_EQ(args->state->dict_get("x")->kind, PyKind::None);
    EXPECT_EQ(v->dict_get("history")->kind, PyKind::List);
    const SanitizedTree safe = sanitize_for_output(v);
    EXPECT_TRUE(safe.dropped.empty()); // what the writer emits passes its own allow-list
}

TEST(PyFromJson, RefusesWhatPythonCouldNotGetBack) {
    EXPECT_THROW(py_from_json("18446744073709551615"), std::invalid_argument); // past int64
    EXPECT_THROW(py_from_json(std::string(65, '[') + std::string(65, ']')), std::invalid_argument);
    EXPECT_NO_THROW(py_from_json(std::string(64, '[') + std::string(64, ']')));
    EXPECT_THROW(py_from_json(R"({"__namespace__": [1]})"), std::invalid_argument);
    EXPECT_ANY_THROW(py_from_json("{"));
}

} // namespace
} // namespace ckptconv::core
