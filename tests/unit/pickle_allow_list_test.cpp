#include "core/io/PickleAllowList.hpp"

#include <gtest/gtest.h>

namespace ckptconv::core {
namespace {

PyRef call(const char* module, const char* name, std::vector<PyRef> args, bool newobj = false) {
    auto o = PyObject::make(PyKind::Object);
    o->callable = PyObject::make_global(module, name);
    o->args = PyObject::make(PyKind::Tuple);
    o->args->items = std::move(args);
    o->via_newobj = newobj;
    return o;
}

TEST(PickleAllowList, NamesOnlyWhatTorchAndDataExtrasNeed) {
    EXPECT_TRUE(output_may_name("torch._utils", "_rebuild_tensor_v2"));
    EXPECT_TRUE(output_may_name("torch", "BFloat16Storage"));
    EXPECT_TRUE(output_may_name("torch", "bfloat16"));
    EXPECT_TRUE(output_may_name("collections", "OrderedDict"));
    EXPECT_TRUE(output_may_name("numpy.core.multiarray", "scalar"));
    EXPECT_FALSE(output_may_name("torch", "load"));
    EXPECT_FALSE(output_may_name("torch._utils", "_rebuild_qtensor"));
    EXPECT_FALSE(output_may_name("copyreg", "__newobj_ex__"));
    EXPECT_FALSE(output_may_name("builtins", "getattr"));
    EXPECT_FALSE(output_may_name("pathlib", "PosixPath"));
}

TEST(PickleAllowList, DropsUnknownObjectsAndWrongArgumentShapesWithTheirPaths) {
    auto top = PyObject::make(PyKind::Dict);
    top->dict_set(PyObject::make_str("size"), call("torch", "Size", {PyObject::make(PyKind::Tuple)}));
    top->dict_set(PyObject::make_str("path"), call("pathlib", "PosixPath", {PyObject::make_str("/x")}));
    top->dict_set(PyObject::make_str("bad_size"), call("torch", "Size", {PyObject::make_str("no")}));
    auto list = PyObject::make(PyKind::List);
    list->items = {PyObject::make_int(1), PyObject::make_global("deepspeed", "LossScaler")};
    top->dict_set(PyObject::make_str("list"), list);
    const SanitizedTree safe = sanitize_for_output(top);
    ASSERT_EQ(safe.tree->entries.size(), 2u); // size and list
    EXPECT_EQ(safe.tree->entries[0].first->text, "size");
    EXPECT_EQ(safe.tree->entries[0].second, top->entries[0].second); // kept nodes are shared, not copied
    const PyObject& kept_list = *safe.tree->entries[1].second;
    ASSERT_EQ(kept_list.items.size(), 2u);
    EXPECT_EQ(kept_list.items[1]->kind, PyKind::None); // positions hold
    ASSERT_EQ(safe.dropped.size(), 3u);
    EXPECT_EQ(safe.dropped[0], "path (pathlib.PosixPath)");
    EXPECT_EQ(safe.dropped[1], "bad_size (torch.Size)");
    EXPECT_EQ(safe.dropped[2], "list.1 (global deepspeed.LossScaler)");
}

TEST(PickleAllowList, NamespaceKeepsItsAllowedAttributesOnly) {
    auto ns = call("argparse", "Namespace", {}, true);
    ns->state = PyObject::make(PyKind::Dict);
    ns->state->dict_set(PyObject::make_str("lr"), PyObject::make_int(3));
    ns->state->dict_set(PyObject::make_str("hook"), call("sqlite3", "connect", {PyObject::make_str("x")}));
    const SanitizedTree safe = sanitize_for_output(ns);
    ASSERT_EQ(safe.tree->kind, PyKind::Object);
    ASSERT_EQ(safe.tree->state->entries.size(), 1u);
    EXPECT_EQ(safe.dropped, std::vector<std::string>{"<state>.hook (sqlite3.connect)"});
    EXPECT_EQ(safe.dropped_tensors, 0u);
}

TEST(PickleAllowList, EnumMembersAndUnsafePlaceholdersNeverReachAnOutput) {
    auto lookup = call(
        "builtins", "getattr",
        {PyObject::make_global("deepspeed.runtime.zero.config", "ZeroStageEnum"), PyObject::make_str("gradients")});
    lookup->attribute_lookup = true;
    auto unsafe = PyObject::make(PyKind::None);
    unsafe->unsafe = true;
    auto top = PyObject::make(PyKind::Dict);
    top->dict_set(PyObject::make_str("stage"), lookup);
    top->dict_set(PyObject::make_str("hook"), unsafe);
    const SanitizedTree safe = sanitize_for_output(top);
    EXPECT_TRUE(safe.tree->entries.empty());
    ASSERT_EQ(safe.dropped.size(), 2u);
    EXPECT_EQ(safe.dropped[1], "hook (an unsafe part removed by --drop-unsafe)");
}

} // namespace
} // namespace ckptconv::core
