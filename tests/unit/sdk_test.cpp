// The header-only SDK wrapper, as a plugin author uses it.
#include "core/host/AbiIndex.hpp"
#include "tests/support/TestSupport.hpp"

#include <ckptconv/sdk.hpp>

#include <gtest/gtest.h>

namespace ckptconv::sdk {
namespace {

TEST(KeyPattern, CapturesSegmentsAndFormats) {
    const KeyPattern p("transformer.layers.{i}.attention.query_key_value.{wb}");
    const auto m = p.match("transformer.layers.17.attention.query_key_value.bias");
    ASSERT_TRUE(m);
    EXPECT_EQ((*m)["i"], "17");
    EXPECT_EQ(m->integer("i"), 17);
    EXPECT_EQ((*m)["wb"], "bias");
    EXPECT_FALSE(p.match("transformer.layers.1.2.attention.query_key_value.bias"));
    EXPECT_FALSE(p.match("transformer.layers.1.attention.query_key_value.bias.extra"));
    EXPECT_EQ(KeyPattern("blocks.{i}.to_q.{wb}").format(*m), "blocks.17.to_q.bias");
}

TEST(KeyMap, OneTableBothDirectionsFirstPairWins) {
    const KeyMap names{{"layers.{i}.ffn.fc1.{wb}", "layers.{i}.fc1.{wb}"},
                       {"layers.{i}.{*rest}", "layers.{i}.{*rest}"}};
    EXPECT_EQ(names.forward("layers.3.ffn.fc1.bias"), "layers.3.fc1.bias");
    EXPECT_EQ(names.backward("layers.3.fc1.bias"), "layers.3.ffn.fc1.bias");
    EXPECT_EQ(names.forward("layers.3.self_attn.q_proj.weight"), "layers.3.self_attn.q_proj.weight");
    EXPECT_EQ(names.backward("embed.weight"), std::nullopt);
}

TEST(KeyPattern, GreedyCaptureAndPrefixMatch) {
    const KeyPattern p("{*head}.qkv_proj.{wb}");
    const auto m = p.match("vision_model.transformer.layers.3.self_attn.qkv_proj.weight");
    ASSERT_TRUE(m);
    EXPECT_EQ((*m)["head"], "vision_model.transformer.layers.3.self_attn");
    EXPECT_TRUE(KeyPattern("encoder.layers.{i}.").match_prefix("encoder.layers.4.fc1.weight"));
    EXPECT_FALSE(KeyPattern("encoder.layers.{i}.").match("encoder.layers.4.fc1.weight"));
    EXPECT_EQ(KeyPattern("a.{x}").match("a.b")->integer("x"), -1);
    EXPECT_THROW(KeyPattern("a.{x"), Error);
}

TEST(RenameTable, EachRuleSeesTheResultOfThePreviousOne) {
    // Order matters: the specific rule must run before the general one it overlaps with.
    RenameTable t;
    t.replace("transformer.final_layernorm", "norm_final")
        .replace("transformer", "transformer_blocks")
        .replace(".layers", "");
    EXPECT_EQ(t.apply("transformer.layers.3.attention.weight"), "transformer_blocks.3.attention.weight");
    EXPECT_EQ(t.apply("transformer.final_layernorm.bias"), "norm_final.bias");
    RenameTable reversed;
    reversed.replace("transformer", "transformer_blocks").replace("transformer.final_layernorm", "norm_final");
    EXPECT_EQ(reversed.apply("transformer.final_layernorm.bias"), "transformer_blocks.final_layernorm.bias");
    EXPECT_EQ(t.size(), 3u);
}

TEST(RenameTable, PrefixAndRegexRules) {
    RenameTable t;
    t.prefix("module.", "").regex(R"(^layers\.(\d+)\.)", "blocks.$1.");
    EXPECT_EQ(t.apply("module.layers.12.w"), "blocks.12.w");
    EXPECT_EQ(t.apply("x.module.layers.1.w"), "x.module.layers.1.w");
}

TEST(IndexView, WalksHostArraysByStrideAndFindsKeys) {
    const core::CheckpointIndex index = test::index_from_keys(
        "module", {{"transformer.layers.0.w", {2, 3}}, {"transformer.layers.5.w", {2}}, {"head", {}}});
    const core::AbiIndex abi(index);
    const IndexView view(abi.view());
    ASSERT_EQ(view.roots().size(), 1u);
    EXPECT_EQ(view.roots()[0].path, "module");
    EXPECT_TRUE(view.roots()[0].is_state_dict);
    EXPECT_EQ(view.require("module", "transformer.layers.0.w").shape, (Shape{2, 3}));
    EXPECT_EQ(view.find("module", "nope"), nullptr);
    EXPECT_THROW(view.require("module", "nope"), Error);
    EXPECT_EQ(count_layers(view, view.roots()[0], KeyPattern("transformer.layers.{i}.")), 6);
    EXPECT_TRUE(view.find("module", "head")->shape.empty());
}

TEST(IndexView, ToleratesLargerElementsFromANewerHost) {
    // A newer host appends fields to ckptconv_tensor_v1; an old plugin must still step correctly.
    struct TensorV2 {
        ckptconv_tensor_v1 v1;
        uint64_t appended_field;
    };
    const int64_t shape_a[] = {4};
    const int64_t shape_b[] = {5, 6};
    TensorV2 tensors[2] = {{{"a", 0, CKPTCONV_DTYPE_F32, 1, 0, shape_a, 0}, 99},
                           {{"b", 0, CKPTCONV_DTYPE_F16, 2, 0, shape_b, 1}, 99}};
    ckptconv_root_v1 root{"", 0, 2, CKPTCONV_ROOT_STATE_DICT};
    ckptconv_index_v1 raw{};
    raw.struct_size = sizeof raw;
    raw.tensor_stride = sizeof(TensorV2);
    raw.root_stride = sizeof root;
    raw.extra_stride = sizeof(ckptconv_extra_v1);
    raw.tensor_count = 2;
    raw.tensors = &tensors[0].v1;
    raw.root_count = 1;
    raw.roots = &root;
    const IndexView view(&raw);
    EXPECT_EQ(view.tensors()[1].key, "b");
    EXPECT_EQ(view.tensors()[1].shape, (Shape{5, 6}));
    EXPECT_EQ(view.tensors()[1].dtype, static_cast<uint32_t>(CKPTCONV_DTYPE_F16));
}

struct BoomPlugin {
    static constexpr const char* kId = "boom";
    static constexpr const char* kVersion = "1.0.0";
    static constexpr const char* kDescription = "";
    static constexpr const char* kFormatVersions[] = {nullptr};
    Detection detect(const IndexView& index) const {
        index.require("", "missing.key");
        return {};
    }
    void plan(const IndexView&, const PlanRequest&, Plan&) const { throw unsupported("no rules for that"); }
};

TEST(PlanDsl, ExpectEachExpandsAPatternWithACount) {
    struct Recorder {
        static int32_t expect(ckptconv_call* call, const char*, const char* key, const int64_t*, uint32_t ndim) {
            reinterpret_cast<std::vector<std::string>*>(call)->push_back(std::string(key) + "/" + std::to_string(ndim));
            return CKPTCONV_OK;
        }
    };
    ckptconv_host_v1 host{};
    host.plan_expect = &Recorder::expect;
    std::vector<std::string> seen;
    Plan plan(&host, reinterpret_cast<ckptconv_call*>(&seen));
    plan.expect_each("", "blocks.{i}.attn.weight", 3, {4, 4});
    EXPECT_EQ(seen,
              (std::vector<std::string>{"blocks.0.attn.weight/2", "blocks.1.attn.weight/2", "blocks.2.attn.weight/2"}));
    EXPECT_THROW(plan.expect_each("", "no.capture", 2, {1}), Error);
}

TEST(PlanDsl, RulesNeedAHostThatHasThem) {
    ckptconv_host_v1 old_host{};
    old_host.struct_size = offsetof(ckptconv_host_v1, plan_rules); // a 1.0 host's table
    Plan plan(&old_host, nullptr);
    try {
        plan.rules("x.yaml");
        FAIL() << "expected a refusal";
    } catch (const Error& e) {
        EXPECT_EQ(e.status(), CKPTCONV_E_UNSUPPORTED);
    }
}

TEST(PlanDsl, NotesReachAHostThatTakesThemAndAreDroppedOnOlderHosts) {
    struct Recorder {
        static int32_t note(ckptconv_call* call, const char* text) {
            reinterpret_cast<std::vector<std::string>*>(call)->push_back(text);
            return CKPTCONV_OK;
        }
    };
    std::vector<std::string> seen;
    ckptconv_host_v1 host{};
    host.struct_size = sizeof host;
    host.plan_note = &Recorder::note;
    Plan(&host, reinterpret_cast<ckptconv_call*>(&seen)).note("supply the text encoder");
    EXPECT_EQ(seen, std::vector<std::string>{"supply the text encoder"});
    host.struct_size = offsetof(ckptconv_host_v1, plan_note); // a 1.1 host's table
    EXPECT_NO_THROW(Plan(&host, reinterpret_cast<ckptconv_call*>(&seen)).note("lost"));
    EXPECT_EQ(seen.size(), 1u);
}

TEST(PlanDsl, FullEncodesTheValueInEachDtype) {
    struct Recorder {
        static ckptconv_expr constant(ckptconv_call* call, const int64_t*, uint32_t, uint32_t, const void* data,
                                      uint64_t nbytes) {
            *reinterpret_cast<std::string*>(call) = std::string(static_cast<const char*>(data), nbytes);
            return 0;
        }
    };
    ckptconv_host_v1 host{};
    host.plan_constant = &Recorder::constant;
    std::string bytes;
    Plan plan(&host, reinterpret_cast<ckptconv_call*>(&bytes));
    auto u16 = [&](size_t i) {
        return static_cast<uint16_t>(static_cast<uint8_t>(bytes[2 * i]) | static_cast<uint8_t>(bytes[2 * i + 1]) << 8);
    };
    plan.full({2}, CKPTCONV_DTYPE_F16, 1.0);
    ASSERT_EQ(bytes.size(), 4u);
    EXPECT_EQ(u16(0), 0x3C00);
    EXPECT_EQ(u16(1), 0x3C00);
    for (const auto& [value, bits] : std::vector<std::pair<double, uint16_t>>{
             {0.1, 0x2E66}, {-2.0, 0xC000}, {65504.0, 0x7BFF}, {1e6, 0x7C00}, {6e-8, 0x0001}, {0.0, 0}}) {
        plan.full({1}, CKPTCONV_DTYPE_F16, value);
        EXPECT_EQ(u16(0), bits) << value;
    }
    plan.full({1}, CKPTCONV_DTYPE_BF16, 1.0);
    EXPECT_EQ(u16(0), 0x3F80);
    plan.full({1}, CKPTCONV_DTYPE_F32, 1.0);
    EXPECT_EQ(bytes, std::string("\x00\x00\x80\x3f", 4));
    plan.full({3}, CKPTCONV_DTYPE_I64, 1.0);
    EXPECT_EQ(bytes.size(), 24u);
    EXPECT_THROW(plan.full({1}, CKPTCONV_DTYPE_BOOL, 1.0), Error);
}

TEST(Trampoline, ExceptionsBecomeStatusAndMessage) {
    const auto* d = detail::Adapter<BoomPlugin>::descriptor();
    struct Recorder {
        static void set_error(ckptconv_call* call, int32_t status, const char* message) {
            auto* r = reinterpret_cast<std::pair<int32_t, std::string>*>(call);
            *r = {status, message};
        }
    };
    ckptconv_host_v1 host{};
    host.set_error = &Recorder::set_error;
    std::pair<int32_t, std::string> seen;
    auto* call = reinterpret_cast<ckptconv_call*>(&seen);
    void* state = nullptr;
    ASSERT_EQ(d->init(&host, call, &state), CKPTCONV_OK);
    ckptconv_index_v1 empty{};
    empty.struct_size = sizeof empty;
    ckptconv_detect_result_v1 result{};
    EXPECT_EQ(d->detect(state, &host, call, &empty, &result), CKPTCONV_E_INVALID_DATA);
    EXPECT_EQ(seen.second, "missing tensor 'missing.key' in root ''");
    ckptconv_plan_request_v1 req{sizeof req, "1", "", "pt", 0, nullptr};
    EXPECT_EQ(d->plan(state, &host, call, &empty, &req), CKPTCONV_E_UNSUPPORTED);
    EXPECT_EQ(seen.second, "no rules for that");
    d->shutdown(state);
}

ckptconv::sdk::PlanRequest request_with(const std::string& heads) {
    ckptconv::sdk::PlanRequest r;
    if (!heads.empty()) r.options.emplace_back("heads", heads);
    return r;
}

TEST(SdkAttentionHeads, FromTheOptionOrTheReleaseTableNeverGuessed) {
    EXPECT_EQ(ckptconv::sdk::attention_heads(request_with(""), 12, 768, "xlmr-base"), 12);
    EXPECT_EQ(ckptconv::sdk::attention_heads(request_with("4"), 12, 768, "xlmr-base"), 4);
    EXPECT_EQ(ckptconv::sdk::attention_heads(request_with("2"), 0, 64, "custom"), 2);
    EXPECT_THROW(ckptconv::sdk::attention_heads(request_with(""), 0, 64, "custom"), ckptconv::sdk::Error);
    EXPECT_THROW(ckptconv::sdk::attention_heads(request_with("3"), 0, 64, "custom"), ckptconv::sdk::Error);
    EXPECT_THROW(ckptconv::sdk::attention_heads(request_with("0"), 0, 64, "custom"), ckptconv::sdk::Error);
    EXPECT_THROW(ckptconv::sdk::attention_heads(request_with("x"), 0, 64, "custom"), ckptconv::sdk::Error);
    EXPECT_THROW(ckptconv::sdk::attention_heads(request_with("-2"), 0, 64, "custom"), ckptconv::sdk::Error);
    try {
        ckptconv::sdk::attention_heads(request_with(""), 0, 64, "custom");
    } catch (const ckptconv::sdk::Error& e) {
        EXPECT_NE(std::string(e.what()).find("--option heads=N"), std::string::npos) << e.what();
    }
}

TEST(SdkValue, NamespacesListsAndEscapes) {
    using ckptconv::sdk::Value;
    EXPECT_EQ(Value::ns({{"arch", "roberta_base"}, {"dropout", 0.1}, {"tied", false}, {"x", Value()}}).json(),
              R"({"__namespace__":{"arch":"roberta_base","dropout":0.1,"tied":false,"x":null}})");
    EXPECT_EQ(Value(1.0).json(), "1.0");
    EXPECT_EQ(Value("a\"b\\\n\x01").json(), R"("a\"b\\\n\u0001")"); // as Python's json.dumps writes them
    EXPECT_EQ(Value::list({}).json(), "[]");
}

} // namespace
} // namespace ckptconv::sdk
