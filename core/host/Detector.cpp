#include "core/host/Detector.hpp"

#include "core/host/HostCall.hpp"
#include "core/util/Log.hpp"

#include <algorithm>
#include <cstring>

namespace ckptconv::core {
namespace {

std::string bounded(const char* text, size_t cap) { return std::string(text, strnlen(text, cap)); }

std::string list_candidates(const std::vector<const Candidate*>& cs) {
    std::string s;
    for (const Candidate* c : cs)
        s += (s.empty() ? "" : ", ") + c->plugin->label() + " (score " + std::to_string(c->score) + ": " + c->reason +
             ")";
    return s;
}

} // namespace

Candidate run_detect(const PluginRecord& plugin, const AbiIndex& index) {
    Candidate c;
    c.plugin = &plugin;
    ckptconv_detect_result_v1 result{};
    result.struct_size = sizeof result;
    ckptconv_call call(plugin.id);
    const int32_t rc = invoke_plugin(call, "detect", [&] {
        return plugin.descriptor.detect(plugin.state, host_services(), &call, index.view(), &result);
    });
    if (rc != CKPTCONV_OK) {
        c.error = call.error_text(rc);
        log(LogLevel::Warning, "plugin " + plugin.label() + ": detect failed: " + c.error);
        return c;
    }
    c.score = std::clamp(result.score, 0, 100);
    c.format_version = bounded(result.format_version, sizeof result.format_version);
    c.variant = bounded(result.variant, sizeof result.variant);
    c.target = bounded(result.target, sizeof result.target);
    c.reason = bounded(result.reason, sizeof result.reason);
    return c;
}

DetectionResult detect(const std::vector<const PluginRecord*>& plugins, const AbiIndex& index,
                       const std::vector<std::string>& priority) {
    DetectionResult out;
    for (const PluginRecord* p : plugins) out.candidates.push_back(run_detect(*p, index));
    std::stable_sort(out.candidates.begin(), out.candidates.end(),
                     [](const Candidate& a, const Candidate& b) { return a.score > b.score; });
    if (out.candidates.empty() || out.candidates.front().score <= CKPTCONV_SCORE_RETRY) {
        std::vector<const Candidate*> guesses;
        for (const auto& c : out.candidates)
            if (c.score > 0 && guesses.size() < 3) guesses.push_back(&c);
        out.problem = "no plugin recognises this checkpoint";
        if (!guesses.empty()) out.problem += "; best guesses: " + list_candidates(guesses);
        return out;
    }
    std::vector<const Candidate*> top;
    for (const auto& c : out.candidates)
        if (c.score == out.candidates.front().score) top.push_back(&c);
    if (top.size() > 1) {
        for (const auto& id : priority) {
            auto it = std::find_if(top.begin(), top.end(), [&](const Candidate* c) { return c->plugin->id == id; });
            if (it != top.end()) {
                // Shown by default: without the config this input would have been refused as ambiguous.
                log(LogLevel::Warning, "tie at score " + std::to_string(top.front()->score) + " between " +
                                           list_candidates(top) +
                                           " broken by config priority: " + (*it)->plugin->label());
                out.selected = **it;
                return out;
            }
        }
        out.ambiguous = true;
        out.problem = "ambiguous: " + std::to_string(top.size()) + " plugins tie at score " +
                      std::to_string(top.front()->score) + ": " + list_candidates(top) +
                      "; choose one with --plugin ID";
        return out;
    }
    out.selected = *top.front();
    return out;
}

} // namespace ckptconv::core
