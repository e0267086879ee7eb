// The host side of `ckptconv_call` and the services table every plugin receives.
#pragma once

#include <ckptconv/ckptconv_plugin.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ckptconv::core {
class PlanBuilder;
struct RuleSource;
} // namespace ckptconv::core

/** One call into a plugin: collects its error and log lines; plan() calls carry a builder. */
struct ckptconv_call {
    std::string plugin_id;
    int32_t error_status = CKPTCONV_OK;
    std::string error_message;
    std::vector<std::pair<int32_t, std::string>> logs;
    ckptconv::core::PlanBuilder* plan = nullptr;
    const ckptconv::core::RuleSource* rules = nullptr; ///< what plan_rules() resolves names against

    explicit ckptconv_call(std::string id, ckptconv::core::PlanBuilder* builder = nullptr,
                           const ckptconv::core::RuleSource* rule_source = nullptr)
        : plugin_id(std::move(id)), plan(builder), rules(rule_source) {}
    /** "<message>" if the plugin set one, else a description of `status`. */
    std::string error_text(int32_t status) const;
};

namespace ckptconv::core {

/** The process-wide services table (static, valid for the life of the process). */
const ckptconv_host_v1* host_services();

/**
 * Calls into a plugin. An exception escaping it (a plugin not built with the
 * SDK wrapper) becomes CKPTCONV_E_INTERNAL with a message on `call`; the host
 * carries on.
 */
template <class F> int32_t invoke_plugin(ckptconv_call& call, const char* what, F&& f) noexcept {
    try {
        return f();
    } catch (const std::exception& e) {
        call.error_message = std::string(what) + " threw: " + e.what();
    } catch (...) {
        call.error_message = std::string(what) + " threw an exception";
    }
    return CKPTCONV_E_INTERNAL;
}

/** Human name of an ABI status code. */
const char* status_name(int32_t status);

} // namespace ckptconv::core
