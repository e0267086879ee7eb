// The fairseq envelope pieces and the attention-head rule shared by xlmr_hf and deltalm_fairseq.
#include <fairseq_family/envelope.hpp>

#include <gtest/gtest.h>

namespace fairseq_family {
namespace {

ckptconv::sdk::PlanRequest request_with(const std::string& heads) {
    ckptconv::sdk::PlanRequest r;
    if (!heads.empty()) r.options.emplace_back("heads", heads);
    return r;
}

TEST(FairseqEnvelope, KeysTheLoaderReads) {
    EXPECT_EQ(optimizer_history("MaskedLmLoss").json(),
              R"([{"criterion_name":"MaskedLmLoss","optimizer_name":"FairseqAdam",)"
              R"("lr_scheduler_state":{"best":null},"num_updates":0}])");
    EXPECT_EQ(extra_state().json(), R"({"train_iterator":{"epoch":1,"iterations_in_epoch":0}})");
}

TEST(FairseqEnvelope, HeadsFromTheOptionOrTheReleaseTableNeverGuessed) {
    EXPECT_EQ(attention_heads(request_with(""), 12, 768, "xlmr-base"), 12);
    EXPECT_EQ(attention_heads(request_with("4"), 12, 768, "xlmr-base"), 4);
    EXPECT_EQ(attention_heads(request_with("2"), 0, 64, "custom"), 2);
    EXPECT_THROW(attention_heads(request_with(""), 0, 64, "custom"), ckptconv::sdk::Error);
    EXPECT_THROW(attention_heads(request_with("3"), 0, 64, "custom"), ckptconv::sdk::Error);
    EXPECT_THROW(attention_heads(request_with("0"), 0, 64, "custom"), ckptconv::sdk::Error);
    EXPECT_THROW(attention_heads(request_with("x"), 0, 64, "custom"), ckptconv::sdk::Error);
    EXPECT_THROW(attention_heads(request_with("-2"), 0, 64, "custom"), ckptconv::sdk::Error);
    try {
        attention_heads(request_with(""), 0, 64, "custom");
    } catch (const ckptconv::sdk::Error& e) {
        EXPECT_NE(std::string(e.what()).find("--option heads=N"), std::string::npos) << e.what();
    }
}

TEST(SdkValue, NamespacesListsAndEscapes) {
    using ckptconv::sdk::Value;
    EXPECT_EQ(Value::ns({{"arch", "roberta_base"}, {"dropout", 0.1}, {"tied", false}, {"x", Value()}}).json(),
              R"({"__namespace__":{"arch":"roberta_base","dropout":0.1,"tied":false,"x":null}})");
    EXPECT_EQ(Value(1.0).json(), "1.0");
    EXPECT_EQ(Value("a\"b\\\n").json(), R"("a\"b\\\u000a")");
    EXPECT_EQ(Value::list({}).json(), "[]");
}

} // namespace
} // namespace fairseq_family
