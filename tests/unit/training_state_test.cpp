#include "core/plan/PlanBuilder.hpp"
#include "core/plan/TrainingState.hpp"
#include "tests/support/TestSupport.hpp"

#include <gtest/gtest.h>

namespace ckptconv::core {
namespace {

PyRef tensor(std::vector<int64_t> shape) {
    const CheckpointIndex one = test::index_from_keys("", {{"t", shape}});
    return one.tree->entries.front().second;
}

PyRef dict(std::vector<std::pair<std::string, PyRef>> entries) {
    auto d = PyObject::make(PyKind::Dict);
    for (auto& [k, v] : entries) d->dict_set(PyObject::make_str(k), v);
    return d;
}

// A SAT engine save in miniature: the model, RNG and optimizer tensors, counters, and `extra` beside them.
CheckpointIndex engine_save(std::vector<std::pair<std::string, PyRef>> extra = {}) {
    std::vector<std::pair<std::string, PyRef>> top = {
        {"module", dict({{"w", tensor({2, 2})}})},
        {"torch_rng_state", tensor({16})},
        {"optimizer", dict({{"state", dict({{"0", dict({{"exp_avg", tensor({4})}})}})}})},
        {"iteration", PyObject::make_int(1000)},
        {"ds_version", PyObject::make_str("0.14.4")},
    };
    top.insert(top.end(), extra.begin(), extra.end());
    CheckpointIndex index;
    index.path = "<memory>";
    index.container = "memory";
    index.tree = dict(top);
    build_index_from_tree(index);
    return index;
}

TEST(TrainingState, KnowsTheFrameworksNames) {
    EXPECT_EQ(training_state_category("np_rng_state"), "RNG");
    EXPECT_EQ(training_state_category("last_optimizer_state"), "optimizer");
    EXPECT_EQ(training_state_category("client_lr_scheduler"), "scheduler");
    EXPECT_EQ(training_state_category("frozen_param_fragments"), "DeepSpeed bookkeeping");
    EXPECT_EQ(training_state_category("extra_state", "ema"), "EMA copy");
    EXPECT_EQ(training_state_category("extra_state", "train_iterator"), "trainer state");
    EXPECT_EQ(training_state_category("my_cache"), "");
}

TEST(TrainingState, OutsideTheModelRootKnownEntriesAreDroppedByCategory) {
    const CheckpointIndex index = engine_save();
    PlanBuilder b(index);
    b.output("", "w", b.source("module", "w"));
    b.model_root("module");
    Plan plan = b.take();
    drop_training_state(index, plan);
    ASSERT_EQ(plan.drops.size(), 2u);
    std::vector<std::string> reasons;
    for (const auto& d : plan.drops) reasons.push_back(d.reason);
    EXPECT_EQ(reasons, (std::vector<std::string>{"training state: RNG", "training state: optimizer"}));
    EXPECT_EQ(plan.training_state,
              (std::vector<std::pair<std::string, std::string>>{{"ds_version", "DeepSpeed bookkeeping"},
                                                                {"iteration", "step counters"},
                                                                {"optimizer", "optimizer"},
                                                                {"torch_rng_state", "RNG"}}));
}

TEST(TrainingState, UnknownTensorsAreLeftForThePlanCheckAndUnknownValuesNamed) {
    const CheckpointIndex index =
        engine_save({{"my_cache", dict({{"buf", tensor({3})}})}, {"my_note", PyObject::make_str("x")}});
    PlanBuilder b(index);
    b.output("", "w", b.source("module", "w"));
    b.model_root("module");
    Plan plan = b.take();
    drop_training_state(index, plan);
    for (const auto& d : plan.drops) EXPECT_NE(index.tensors[d.source_tensor].key, "buf");
    EXPECT_NE(std::find(plan.training_state.begin(), plan.training_state.end(),
                        std::make_pair(std::string("my_note"), std::string("not recognised"))),
              plan.training_state.end());
}

TEST(TrainingState, WithoutAModelRootNothingChanges) {
    const CheckpointIndex index = engine_save();
    PlanBuilder b(index);
    b.output("", "w", b.source("module", "w"));
    Plan plan = b.take();
    drop_training_state(index, plan);
    EXPECT_TRUE(plan.drops.empty());
    EXPECT_TRUE(plan.training_state.empty());
    EXPECT_THROW(PlanBuilder(index).model_root("nowhere"), PlanOpError);
}

} // namespace
} // namespace ckptconv::core
