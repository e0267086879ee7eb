#include "core/index/LightningSave.hpp"
#include "tests/support/TestSupport.hpp"

#include <gtest/gtest.h>

namespace ckptconv::core {
namespace {

PyRef tensor() {
    const CheckpointIndex one = test::index_from_keys("", {{"t", {2, 2}}});
    return one.tree->entries.front().second;
}

// A Lightning .ckpt in miniature: `state_dict` with `keys`, the version marker unless `plain`.
CheckpointIndex save(const std::vector<std::string>& keys, bool plain = false) {
    auto sd = PyObject::make(PyKind::Dict);
    sd->ordered = true;
    for (const auto& k : keys) sd->dict_set(PyObject::make_str(k), tensor());
    auto top = PyObject::make(PyKind::Dict);
    top->dict_set(PyObject::make_str("epoch"), PyObject::make_int(3));
    if (!plain) top->dict_set(PyObject::make_str("pytorch-lightning_version"), PyObject::make_str("2.1.3"));
    top->dict_set(PyObject::make_str("state_dict"), sd);
    top->dict_set(PyObject::make_str("optimizer_states"), tensor());
    CheckpointIndex index;
    index.path = "<memory>";
    index.tree = top;
    build_index_from_tree(index);
    return index;
}

TEST(LightningSave, OneAttributeIsTakenOffAndTheSaveIndexedAgain) {
    CheckpointIndex index = save({"model.embed.weight", "model.layers.0.w", "model.head"});
    ASSERT_EQ(lightning_module_prefix(index), "model.");
    unwrap_lightning_module(index, "model.");
    std::vector<std::string> keys;
    for (const auto& t : index.tensors)
        if (index.roots[t.root].path == "state_dict") keys.push_back(t.key);
    EXPECT_EQ(keys, (std::vector<std::string>{"embed.weight", "layers.0.w", "head"})) << "order kept";
    EXPECT_EQ(index.tensors.size(), 4u) << "the rest of the save is still there";
    EXPECT_EQ(index.tree->entries.back().first->text, "optimizer_states") << "top-level order kept";
    ASSERT_EQ(index.notes.size(), 1u);
    EXPECT_EQ(index.notes[0], "Lightning save: the LightningModule attribute 'model' taken off the 3 state_dict keys");
}

TEST(LightningSave, NothingToUnwrapUnlessOneAttributeHoldsEveryKey) {
    EXPECT_EQ(lightning_module_prefix(save({"model.a", "ema.a"})), "") << "two submodules: the user picks";
    EXPECT_EQ(lightning_module_prefix(save({"model.a", "bias"})), "") << "a parameter of the module itself";
    EXPECT_EQ(lightning_module_prefix(save({"model.", "model.b"})), "");
    EXPECT_EQ(lightning_module_prefix(save({})), "");
    EXPECT_EQ(lightning_module_prefix(save({"model.a"}, true)), "") << "not a Lightning save";
    EXPECT_EQ(lightning_module_prefix(save({"net.a", "net.b.c"})), "net.");
}

TEST(LightningSave, DeepSpeedStrategySaveBecomesWhatLightningsConverterWrites) {
    auto module = PyObject::make(PyKind::Dict);
    module->dict_set(PyObject::make_str("_forward_module.model.w"), tensor());
    module->dict_set(PyObject::make_str("_forward_module.model.b"), tensor());
    auto states = PyObject::make(PyKind::Dict);
    for (const char* engine : {"module", "optimizer", "global_steps", "dp_world_size"})
        states->dict_set(PyObject::make_str(engine), PyObject::make_int(0));
    states->dict_set(PyObject::make_str("ds_version"), PyObject::make_str("0.15.3"));
    states->dict_set(PyObject::make_str("epoch"), PyObject::make_int(3));
    EXPECT_FALSE(is_lightning_client_state(*states));
    states->dict_set(PyObject::make_str("pytorch-lightning_version"), PyObject::make_str("2.0.9"));
    ASSERT_TRUE(is_lightning_client_state(*states));
    std::vector<std::string> notes;
    const PyRef ckpt = lightning_checkpoint_from_deepspeed(*states, module, notes);
    std::vector<std::string> top;
    for (const auto& [k, v] : ckpt->entries) top.push_back(k->text);
    EXPECT_EQ(top, (std::vector<std::string>{"ds_version", "epoch", "pytorch-lightning_version", "state_dict"}));
    const PyRef sd = ckpt->dict_get("state_dict");
    ASSERT_EQ(sd->entries.size(), 2u);
    EXPECT_EQ(sd->entries[0].first->text, "model.w");
    EXPECT_EQ(sd->entries[1].first->text, "model.b");
    ASSERT_EQ(notes.size(), 1u);
    EXPECT_NE(notes[0].find("Lightning 2.0.9"), std::string::npos);
    EXPECT_NE(notes[0].find("without their `_forward_module.` prefix"), std::string::npos);
    // Lightning >= 2.1 names the module keys as the LightningModule does: nothing to take off.
    module->dict_set(PyObject::make_str("model.c"), tensor());
    EXPECT_EQ(lightning_checkpoint_from_deepspeed(*states, module, notes)->dict_get("state_dict"), module);
}

} // namespace
} // namespace ckptconv::core
