// ABI contract: every broken fake plugin gets its own named status, and the host keeps working.
#include "core/host/Detector.hpp"
#include "core/host/HostCall.hpp"
#include "core/host/PluginRegistry.hpp"
#include "core/plan/PlanBuilder.hpp"
#include "core/util/Error.hpp"
#include "tests/support/TestSupport.hpp"

#include <gtest/gtest.h>

#include <map>

namespace ckptconv::core {
namespace {

class FakePlugins : public ::testing::Test {
  protected:
    void SetUp() override {
        registry.load_directory(CKPTCONV_FAKE_PLUGIN_DIR);
        for (const auto& r : registry.records()) by_file[std::filesystem::path(r->origin).stem().string()] = r.get();
    }
    const PluginRecord& record(const std::string& file_stem) {
        auto it = by_file.find(file_stem);
        if (it == by_file.end()) throw std::runtime_error("no record for " + file_stem);
        return *it->second;
    }
    PluginRegistry registry;
    std::map<std::string, const PluginRecord*> by_file;
};

TEST_F(FakePlugins, EveryLibraryInTheFolderGetsARecord) { EXPECT_EQ(registry.records().size(), 17u); }

TEST_F(FakePlugins, GoodPluginLoads) {
    const auto& r = record("ckptconv_fake_good");
    EXPECT_EQ(r.status, LoadStatus::Loaded) << r.message;
    EXPECT_EQ(r.id, "fake_good");
    EXPECT_EQ(r.version, "1.0.0");
    EXPECT_EQ(r.format_versions, std::vector<std::string>{"1"});
}

TEST_F(FakePlugins, GarbageFileCannotOpen) {
    EXPECT_EQ(record("ckptconv_fake_garbage").status, LoadStatus::CannotOpen);
    EXPECT_NE(record("ckptconv_fake_garbage").message.find("ckptconv_fake_garbage.so"), std::string::npos);
}

TEST_F(FakePlugins, MissingEntrySymbol) {
    EXPECT_EQ(record("ckptconv_fake_missing_entry").status, LoadStatus::MissingEntry);
}

TEST_F(FakePlugins, WrongMajorIsIncompatible) {
    const auto& r = record("ckptconv_fake_wrong_major");
    EXPECT_EQ(r.status, LoadStatus::IncompatibleAbi);
    EXPECT_NE(r.message.find("plugin ABI 2.0"), std::string::npos) << r.message;
}

TEST_F(FakePlugins, OlderMinorLoads) {
    const auto& r = record("ckptconv_fake_minor_zero");
    EXPECT_EQ(r.status, LoadStatus::Loaded);
    EXPECT_EQ(r.descriptor.abi_version, static_cast<uint32_t>(CKPTCONV_ABI_MAJOR << 16));
}

TEST_F(FakePlugins, NewerMinorIsRefused) {
    EXPECT_EQ(record("ckptconv_fake_newer_minor").status, LoadStatus::PluginNewerThanHost);
}

TEST_F(FakePlugins, DescriptorTooSmallIsMalformed) {
    const auto& r = record("ckptconv_fake_too_small");
    EXPECT_EQ(r.status, LoadStatus::MalformedDescriptor);
    EXPECT_NE(r.message.find("8 bytes"), std::string::npos) << r.message;
}

TEST_F(FakePlugins, PartitionRulesAreCopiedWithTheirKindStrideAndReason) {
    const auto& r = record("ckptconv_fake_good");
    ASSERT_EQ(r.status, LoadStatus::Loaded) << r.message;
    ASSERT_EQ(r.partitions.size(), 2u);
    EXPECT_EQ(r.partitions[0].key_glob, "*.qkv.weight");
    EXPECT_EQ(r.partitions[0].kind, PartitionKind::Column);
    EXPECT_EQ(r.partitions[0].stride, 3u);
    EXPECT_EQ(r.partitions[1].kind, PartitionKind::Refuse);
    EXPECT_EQ(r.partitions[1].stride, 1u); // 0 reads as 1
    EXPECT_EQ(r.partitions[1].reason, "a reason");
}

TEST_F(FakePlugins, SidecarValuesAreCopiedAndAPathIsMalformed) {
    const auto& ok = record("ckptconv_fake_good");
    ASSERT_EQ(ok.sidecars.size(), 1u);
    EXPECT_EQ(ok.sidecars[0].file_name, "run.yaml");
    EXPECT_EQ(ok.sidecars[0].yaml_path, "train.lora.alpha");
    EXPECT_EQ(ok.sidecars[0].option, "source.alpha");
    EXPECT_EQ(ok.sidecars[0].parents, 2u);
    const auto& r = record("ckptconv_fake_bad_sidecars");
    EXPECT_EQ(r.status, LoadStatus::MalformedDescriptor);
    EXPECT_NE(r.message.find("'../run.yaml', not a plain file name"), std::string::npos) << r.message;
}

TEST_F(FakePlugins, ARefusingPartitionRuleWithoutAReasonIsMalformed) {
    const auto& r = record("ckptconv_fake_bad_partitions");
    EXPECT_EQ(r.status, LoadStatus::MalformedDescriptor);
    EXPECT_NE(r.message.find("refuses without a reason"), std::string::npos) << r.message;
}

TEST_F(FakePlugins, MissingRequiredFunctionIsMalformed) {
    const auto& r = record("ckptconv_fake_no_detect");
    EXPECT_EQ(r.status, LoadStatus::MalformedDescriptor);
    EXPECT_NE(r.message.find("detect"), std::string::npos) << r.message;
}

TEST_F(FakePlugins, NullDescriptorIsMalformed) {
    EXPECT_EQ(record("ckptconv_fake_null_descriptor").status, LoadStatus::MalformedDescriptor);
}

TEST_F(FakePlugins, DuplicateIdAndVersion) {
    const auto& r = record("ckptconv_fake_good_copy");
    EXPECT_EQ(r.status, LoadStatus::DuplicateIdVersion);
    EXPECT_NE(r.message.find("ckptconv_fake_good.so"), std::string::npos) << r.message;
}

TEST_F(FakePlugins, InitFailureKeepsItsMessage) {
    const auto& r = record("ckptconv_fake_init_fails");
    EXPECT_EQ(r.status, LoadStatus::InitFailed);
    EXPECT_EQ(r.message, "fake init refuses to start");
}

TEST_F(FakePlugins, SecondVersionOfOneIdLoadsAndHighestIsSelected) {
    EXPECT_EQ(record("ckptconv_fake_good_v2").status, LoadStatus::Loaded);
    const auto selected = registry.select({});
    const auto it =
        std::find_if(selected.begin(), selected.end(), [](const PluginRecord* r) { return r->id == "fake_good"; });
    ASSERT_NE(it, selected.end());
    EXPECT_EQ((*it)->version, "2.0.0");
}

TEST_F(FakePlugins, PinSelectsLowerVersionAndImpossiblePinListsVersions) {
    SelectionPolicy pin;
    pin.pins["fake_good"] = "<2";
    const auto selected = registry.select(pin);
    const auto it =
        std::find_if(selected.begin(), selected.end(), [](const PluginRecord* r) { return r->id == "fake_good"; });
    ASSERT_NE(it, selected.end());
    EXPECT_EQ((*it)->version, "1.0.0");
    pin.pins["fake_good"] = ">=3";
    try {
        registry.select(pin);
        FAIL() << "an impossible pin must fail";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ExitCode::Usage);
        EXPECT_NE(std::string(e.what()).find("1.0.0"), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("2.0.0"), std::string::npos) << e.what();
    }
}

TEST_F(FakePlugins, ThrowingDetectBecomesAnErrorAndOthersStillDetect) {
    const CheckpointIndex index = test::index_from_keys("", {{"fake.marker", {2}}});
    const AbiIndex abi(index);
    const auto& wrapped = record("ckptconv_fake_throwing");
    const auto& raw = record("ckptconv_fake_raw_throw");
    ASSERT_TRUE(wrapped.loaded()) << wrapped.message;
    ASSERT_TRUE(raw.loaded()) << raw.message;
    EXPECT_EQ(run_detect(wrapped, abi).error, "fake detect exploded");
    EXPECT_NE(run_detect(raw, abi).error.find("raw exception"), std::string::npos);

    SelectionPolicy no_twin;
    no_twin.disabled.insert("fake_twin");
    const DetectionResult result = detect(registry.select(no_twin), abi);
    ASSERT_TRUE(result.selected.has_value()) << result.problem;
    EXPECT_EQ(result.selected->plugin->id, "fake_good");
    EXPECT_EQ(result.selected->score, CKPTCONV_SCORE_MAGIC);
}

TEST_F(FakePlugins, DlopenedPluginBuildsAPlanThroughHostServices) {
    const CheckpointIndex index = test::index_from_keys("model", {{"fake.marker", {2}}, {"w", {3, 4}}});
    const AbiIndex abi(index);
    const PluginRecord* good = registry.find("fake_good", "1.0.0");
    ASSERT_NE(good, nullptr);
    PlanBuilder builder(index);
    ckptconv_call call(good->id, &builder);
    ckptconv_plan_request_v1 request{sizeof request, "1", "", "pt", 0, nullptr};
    ASSERT_EQ(good->descriptor.plan(good->state, host_services(), &call, abi.view(), &request), CKPTCONV_OK)
        << call.error_message;
    ASSERT_EQ(builder.plan().outputs.size(), 2u);
    EXPECT_EQ(builder.plan().outputs[1].key, "w");
    EXPECT_EQ(builder.plan().nodes[static_cast<size_t>(builder.plan().outputs[1].expr)].shape, (Shape{3, 4}));
}

} // namespace
} // namespace ckptconv::core
