// The fairseq envelope pieces shared by xlmr_hf and deltalm_fairseq.
#include <fairseq_family/envelope.hpp>

#include <gtest/gtest.h>

namespace fairseq_family {
namespace {

TEST(FairseqEnvelope, KeysTheLoaderReads) {
    EXPECT_EQ(optimizer_history("MaskedLmLoss").json(),
              R"([{"criterion_name":"MaskedLmLoss","optimizer_name":"FairseqAdam",)"
              R"("lr_scheduler_state":{"best":null},"num_updates":0}])");
    EXPECT_EQ(extra_state().json(), R"({"train_iterator":{"epoch":1,"iterations_in_epoch":0}})");
}

TEST(FairseqEnvelope, SideFieldsAndJoin) {
    const auto members = join(transformer_side("decoder", 6, 768, 3072, 12), {{"arch", "deltalm_base"}});
    ASSERT_EQ(members.size(), 7u);
    EXPECT_EQ(members[0].first, "decoder_layers");
    EXPECT_EQ(members[3].second.json(), "12");
    EXPECT_EQ(members[6].first, "arch");
}

} // namespace
} // namespace fairseq_family
