// Plugins whose detect() throws: one through the SDK wrapper (which must turn
// the exception into a status and message), one raw, throwing straight
// through the C boundary (which the host must survive).
#include <ckptconv/sdk.hpp>

#include <stdexcept>

#ifdef FAKE_RAW_THROW
static int32_t raw_detect(void*, const ckptconv_host_v1*, ckptconv_call*, const ckptconv_index_v1*,
                          ckptconv_detect_result_v1*) {
    throw std::runtime_error("raw exception through the C boundary");
}
static int32_t raw_plan(void*, const ckptconv_host_v1*, ckptconv_call*, const ckptconv_index_v1*,
                        const ckptconv_plan_request_v1*) {
    return CKPTCONV_E_UNSUPPORTED;
}
extern "C" CKPTCONV_EXPORT const ckptconv_plugin_v1* ckptconv_plugin_entry_v1(void) {
    static const ckptconv_plugin_v1 d = {sizeof(d),        CKPTCONV_ABI_VERSION,
                                         "fake_raw_throw", "1.0.0",
                                         "throws raw",     nullptr,
                                         nullptr,          nullptr,
                                         raw_detect,       raw_plan,
                                         nullptr,          0,
                                         nullptr,          0};
    return &d;
}
#else
struct ThrowingPlugin {
    static constexpr const char* kId = "fake_throwing";
    static constexpr const char* kVersion = "1.0.0";
    static constexpr const char* kDescription = "detect throws";
    static constexpr const char* kFormatVersions[] = {nullptr};
    ckptconv::sdk::Detection detect(const ckptconv::sdk::IndexView&) const {
        throw std::runtime_error("fake detect exploded");
    }
    void plan(const ckptconv::sdk::IndexView&, const ckptconv::sdk::PlanRequest&, ckptconv::sdk::Plan&) const {}
};
CKPTCONV_PLUGIN(ThrowingPlugin, fake_throwing)
#endif
