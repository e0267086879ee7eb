// The services table as a plugin sees it: C calls, negative handles, recorded errors.
#include "core/host/HostCall.hpp"
#include "core/plan/PlanBuilder.hpp"
#include "tests/support/TestSupport.hpp"

#include <gtest/gtest.h>

namespace ckptconv::core {
namespace {

TEST(HostServices, TableIsVersionedAndComplete) {
    const ckptconv_host_v1* h = host_services();
    EXPECT_EQ(h->struct_size, sizeof(ckptconv_host_v1));
    EXPECT_EQ(h->abi_version, CKPTCONV_ABI_VERSION);
    const void* const* fns = reinterpret_cast<const void* const*>(&h->log);
    const size_t count = (sizeof(ckptconv_host_v1) - offsetof(ckptconv_host_v1, log)) / sizeof(void*);
    for (size_t i = 0; i < count; ++i) EXPECT_NE(fns[i], nullptr) << "service " << i;
}

TEST(HostServices, PlanOpsRecordTheFirstErrorAndPassNegativeHandlesOn) {
    const CheckpointIndex index = test::index_from_keys("", {{"w", {6, 2}}});
    PlanBuilder builder(index);
    ckptconv_call call("p", &builder);
    const ckptconv_host_v1* h = host_services();
    const ckptconv_expr w = h->plan_source(&call, "", "w");
    ASSERT_GE(w, 0);
    const ckptconv_expr bad = h->plan_chunk(&call, w, 4, 0, 0);
    EXPECT_LT(bad, 0);
    EXPECT_EQ(call.error_status, CKPTCONV_E_PLAN);
    const std::string first = call.error_message;
    EXPECT_NE(first.find("does not split into 4"), std::string::npos);
    EXPECT_EQ(h->plan_narrow(&call, bad, 0, 0, 1), bad);
    EXPECT_EQ(h->plan_output(&call, "", "x", bad), CKPTCONV_E_PLAN);
    EXPECT_EQ(call.error_message, first);
    EXPECT_TRUE(builder.plan().outputs.empty());
}

TEST(HostServices, NotesGoToThePlan) {
    const CheckpointIndex index = test::index_from_keys("", {{"w", {2}}});
    PlanBuilder builder(index);
    ckptconv_call call("p", &builder);
    EXPECT_EQ(host_services()->plan_note(&call, "the VAE is not converted"), CKPTCONV_OK);
    EXPECT_EQ(builder.plan().notes, std::vector<std::string>{"the VAE is not converted"});
}

TEST(HostServices, PlanOpsOutsidePlanAreRefused) {
    ckptconv_call call("p");
    EXPECT_LT(host_services()->plan_source(&call, "", "w"), 0);
    EXPECT_EQ(call.error_status, CKPTCONV_E_INVALID_ARGUMENT);
}

TEST(HostServices, SetErrorAndLog) {
    ckptconv_call call("p");
    host_services()->log(&call, CKPTCONV_LOG_DEBUG, "hello");
    host_services()->set_error(&call, CKPTCONV_E_INVALID_DATA, "key 'x': expected [4]");
    ASSERT_EQ(call.logs.size(), 1u);
    EXPECT_EQ(call.logs[0].second, "hello");
    EXPECT_EQ(call.error_text(CKPTCONV_E_INVALID_DATA), "key 'x': expected [4]");
    EXPECT_EQ(ckptconv_call("q").error_text(CKPTCONV_E_UNSUPPORTED), "unsupported (status -3)");
}

} // namespace
} // namespace ckptconv::core
