#include "core/cli/CommandLine.hpp"
#include "core/cli/Commands.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <iostream>

namespace ckptconv::cli {

int run_plugins(const std::vector<std::string>& tokens) {
    CommandSpec spec{"plugins",
                     "[--json]",
                     "List every plugin build found on the search path: load status, and which build of each id "
                     "is selected (config pins, disabled, else the highest version).",
                     {},
                     {},
                     {}};
    spec.options.add_options()("json", po::bool_switch(), "machine-readable output");
    const auto vm = parse_command(spec, tokens);
    if (!vm) return 0;
    const auto session = open_session(*vm);
    std::vector<const core::PluginRecord*> selected;
    try {
        selected = session->selected_plugins();
    } catch (const std::exception& e) {
        std::cerr << "warning: " << e.what() << "\n";
    }
    auto is_selected = [&](const core::PluginRecord* r) {
        return std::find(selected.begin(), selected.end(), r) != selected.end();
    };
    // Why a loaded build is or is not the one that runs: several builds of one id may be on the path.
    const auto& policy = session->config().selection;
    auto selection = [&](const core::PluginRecord* r) -> std::string {
        if (!r->loaded()) return "";
        if (is_selected(r)) return "selected";
        if (policy.disabled.count(r->id)) return "disabled by config";
        const auto chosen =
            std::find_if(selected.begin(), selected.end(), [&](const core::PluginRecord* s) { return s->id == r->id; });
        const auto pin = policy.pins.find(r->id);
        if (chosen == selected.end()) return pin == policy.pins.end() ? "not selected" : "outside pin " + pin->second;
        if (pin != policy.pins.end()) return "config pin " + pin->second + " selects " + (*chosen)->version;
        return "version " + (*chosen)->version + " is newer";
    };
    auto abi_text = [](uint32_t v) {
        return v ? std::to_string(CKPTCONV_ABI_MAJOR_OF(v)) + "." + std::to_string(CKPTCONV_ABI_MINOR_OF(v))
                 : std::string("-");
    };
    const auto& records = session->registry().records();
    if ((*vm)["json"].as<bool>()) {
        nlohmann::ordered_json out;
        out["host_abi"] = abi_text(CKPTCONV_ABI_VERSION);
        out["search_path"] = nlohmann::ordered_json::array();
        for (const auto& p : session->search_path()) out["search_path"].push_back(p.string());
        out["plugins"] = nlohmann::ordered_json::array();
        for (const auto& r : records) {
            out["plugins"].push_back({{"id", r->id},
                                      {"version", r->version},
                                      {"status", core::load_status_name(r->status)},
                                      {"message", r->message},
                                      {"abi", abi_text(r->abi_version)},
                                      {"origin", r->origin},
                                      {"description", r->description},
                                      {"format_versions", r->format_versions},
                                      {"selected", is_selected(r.get())},
                                      {"selection", selection(r.get())}});
        }
        std::cout << out.dump(2) << "\n";
        return 0;
    }
    std::printf("%-18s %-10s %-24s %-5s %s\n", "ID", "VERSION", "STATUS", "ABI", "ORIGIN");
    for (const auto& r : records) {
        std::string status = core::load_status_name(r->status);
        const std::string why = selection(r.get());
        if (why == "selected") status += " (selected)";
        std::printf("%-18s %-10s %-24s %-5s %s\n", r->id.empty() ? "-" : r->id.c_str(),
                    r->version.empty() ? "-" : r->version.c_str(), status.c_str(), abi_text(r->abi_version).c_str(),
                    r->origin.c_str());
        if (!r->message.empty()) std::printf("%-18s   %s\n", "", r->message.c_str());
        if (!why.empty() && why != "selected") std::printf("%-18s   not selected: %s\n", "", why.c_str());
    }
    if (records.empty())
        std::printf("(no plugins found; search path: %zu folders, see --json)\n", session->search_path().size());
    return 0;
}

} // namespace ckptconv::cli
