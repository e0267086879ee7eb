// The CLI surface scripts rely on: commands, JSON shapes and exit codes.
#include "tests/support/TestSupport.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <iterator>
#include <map>

namespace ckptconv::test {
namespace {

using nlohmann::json;

const std::string kSample = std::string(CKPTCONV_SOURCE_DIR) + "/samples/cogvideox_sat_t2v_tiny.pt";

TEST(Cli, VersionAndHelp) {
    const auto v = run_cli({"--version"});
    EXPECT_EQ(v.exit_code, 0);
    EXPECT_NE(v.out.find("ckptconv 0.1.0 (plugin ABI 1.6)"), std::string::npos) << v.out;
    const auto h = run_cli({"--help"});
    EXPECT_EQ(h.exit_code, 0);
    EXPECT_NE(h.out.find("exit codes"), std::string::npos);
    EXPECT_EQ(run_cli({}).exit_code, 2);
    const auto bad = run_cli({"frobnicate"});
    EXPECT_EQ(bad.exit_code, 2);
    EXPECT_NE(bad.err.find("unknown command 'frobnicate'"), std::string::npos);
    EXPECT_EQ(run_cli({"inspect"}).exit_code, 2);
    EXPECT_EQ(run_cli({"inspect", kSample, "--no-such-flag"}).exit_code, 2);
}

TEST(Cli, PluginsListsBuiltinThroughDlopen) {
    const auto r = run_cli({"plugins", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json j = json::parse(r.out);
    EXPECT_EQ(j["host_abi"], "1.6");
    bool found = false;
    for (const auto& p : j["plugins"])
        if (p["id"] == "cogvideox_sat") {
            found = true;
            EXPECT_EQ(p["status"], "loaded");
            EXPECT_TRUE(p["selected"].get<bool>());
            EXPECT_NE(p["origin"].get<std::string>().find("lib/ckptconv/plugins/ckptconv_cogvideox_sat.so"),
                      std::string::npos);
        }
    EXPECT_TRUE(found) << r.out;
}

TEST(Cli, BrokenPluginsShowTheirStatusAndTheGoodOnesStillLoad) {
    const auto r = run_cli({"plugins", "--json", "--plugin-path", CKPTCONV_FAKE_PLUGIN_DIR});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::map<std::string, std::string> status;
    const json listing = json::parse(r.out);
    for (const auto& p : listing["plugins"])
        status[std::filesystem::path(p["origin"].get<std::string>()).stem().string()] = p["status"].get<std::string>();
    EXPECT_EQ(status["ckptconv_fake_good"], "loaded");
    EXPECT_EQ(status["ckptconv_cogvideox_sat"], "loaded");
    EXPECT_EQ(status["ckptconv_fake_garbage"], "cannot-open");
    EXPECT_EQ(status["ckptconv_fake_missing_entry"], "missing-entry");
    EXPECT_EQ(status["ckptconv_fake_wrong_major"], "incompatible-abi");
    EXPECT_EQ(status["ckptconv_fake_newer_minor"], "plugin-newer-than-host");
    EXPECT_EQ(status["ckptconv_fake_too_small"], "malformed-descriptor");
    EXPECT_EQ(status["ckptconv_fake_no_detect"], "malformed-descriptor");
    EXPECT_EQ(status["ckptconv_fake_good_copy"], "duplicate-id-version");
    EXPECT_EQ(status["ckptconv_fake_init_fails"], "init-failed");
    const auto text = run_cli({"plugins", "--plugin-path", CKPTCONV_FAKE_PLUGIN_DIR});
    EXPECT_NE(text.out.find("fake init refuses to start"), std::string::npos) << text.out;
}

TEST(Cli, EnvironmentSearchPathIsHonoured) {
    const auto r = run_cli({"plugins", "--json"}, {std::string("CKPTCONV_PLUGIN_PATH=") + CKPTCONV_FAKE_PLUGIN_DIR});
    EXPECT_NE(r.out.find("fake_good"), std::string::npos);
}

TEST(Cli, DetectJsonHasTheDocumentedShape) {
    const auto r = run_cli({"detect", kSample, "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json j = json::parse(r.out);
    EXPECT_EQ(j["file"], kSample);
    EXPECT_EQ(j["container"], "torch-zip");
    ASSERT_FALSE(j["candidates"].empty());
    for (const char* k : {"plugin", "plugin_version", "format_version", "variant", "score", "reason"})
        EXPECT_TRUE(j["selected"].contains(k)) << k;
    EXPECT_EQ(j["selected"]["plugin"], "cogvideox_sat");
    EXPECT_EQ(j["selected"]["format_version"], "1.0");
    EXPECT_GT(j["selected"]["score"].get<int>(), 25);
}

TEST(Cli, DetectWithNoMatchExits4WithNullSelection) {
    const auto r = run_cli({"detect", corpus("torch/tied.pt"), "--json"});
    EXPECT_EQ(r.exit_code, 4);
    const json j = json::parse(r.out);
    EXPECT_TRUE(j["selected"].is_null());
    EXPECT_NE(r.err.find("no plugin recognises this checkpoint"), std::string::npos) << r.err;
}

TEST(Cli, TieIsAmbiguousUnlessConfigPriorityBreaksIt) {
    const std::string marker = corpus("torch/fake_marker.pt");
    const auto r = run_cli({"detect", marker, "--plugin-path", CKPTCONV_FAKE_PLUGIN_DIR});
    EXPECT_EQ(r.exit_code, 4);
    EXPECT_NE(r.err.find("ambiguous: 2 plugins tie at score 75"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("fake_good@2.0.0"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("fake_twin@1.0.0"), std::string::npos) << r.err;
    TempDir dir;
    std::ofstream(dir / "c.yaml") << "priority: [fake_twin]\n";
    const auto p = run_cli(
        {"detect", marker, "--json", "--plugin-path", CKPTCONV_FAKE_PLUGIN_DIR, "--config", (dir / "c.yaml").string()});
    ASSERT_EQ(p.exit_code, 0) << p.err;
    EXPECT_EQ(json::parse(p.out)["selected"]["plugin"], "fake_twin");
    EXPECT_NE(p.err.find("tie at score 75 between"), std::string::npos) << p.err;
    EXPECT_NE(p.err.find("broken by config priority: fake_twin@1.0.0"), std::string::npos) << p.err;
}

TEST(Cli, ForcedPluginThatDoesNotRecogniseExits4) {
    const auto r = run_cli({"detect", corpus("torch/tied.pt"), "--plugin", "cogvideox_sat"});
    EXPECT_EQ(r.exit_code, 4);
    EXPECT_NE(r.err.find("does not recognise this checkpoint"), std::string::npos) << r.err;
}

TEST(Cli, ForcedPluginAndFormatVersion) {
    const auto r = run_cli({"detect", kSample, "--json", "--plugin", "cogvideox_sat@>=0.1", "--format-version", "1.5"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(json::parse(r.out)["selected"]["format_version"], "1.5");
    const auto missing = run_cli({"detect", kSample, "--plugin", "nope"});
    EXPECT_EQ(missing.exit_code, 4);
    EXPECT_NE(missing.err.find("no build of 'nope' loaded"), std::string::npos) << missing.err;
    const auto undeclared = run_cli({"detect", kSample, "--plugin", "cogvideox_sat", "--format-version", "9.9"});
    EXPECT_EQ(undeclared.exit_code, 2);
    EXPECT_NE(undeclared.err.find("--format-version 9.9: plugin cogvideox_sat@1.0.0 has rules for 1.0, 1.5"),
              std::string::npos)
        << undeclared.err;
}

// fake_good 1.0.0 and 2.0.0 sit side by side in one folder (fake_twin, which ties with them, is disabled).
TEST(Cli, SideBySideVersionsOfOnePlugin) {
    TempDir dir;
    const std::string marker = corpus("torch/fake_marker.pt");
    const auto config = [&](const std::string& name, const std::string& pins) {
        std::ofstream(dir / name) << "plugin_paths: [\"" << CKPTCONV_FAKE_PLUGIN_DIR << "\"]\ndisabled: [fake_twin]\n"
                                  << pins;
        return (dir / name).string();
    };
    const auto selected_version = [&](const std::vector<std::string>& extra) {
        std::vector<std::string> args{"detect", marker, "--json"};
        args.insert(args.end(), extra.begin(), extra.end());
        const auto r = run_cli(args);
        EXPECT_EQ(r.exit_code, 0) << r.err;
        return r.exit_code == 0 ? json::parse(r.out)["selected"]["plugin_version"].get<std::string>() : "";
    };
    const std::string none = config("none.yaml", "");
    const auto listing = json::parse(run_cli({"plugins", "--json", "--config", none}).out);
    std::map<std::string, bool> fake_good;
    for (const auto& p : listing["plugins"])
        if (p["id"] == "fake_good" && p["status"] == "loaded") fake_good[p["version"]] = p["selected"];
    EXPECT_EQ(fake_good, (std::map<std::string, bool>{{"1.0.0", false}, {"2.0.0", true}}));

    const std::string exact = config("exact.yaml", "plugins: {fake_good: \"1.0.0\"}\n");
    const auto why = [&](const std::string& cfg, const std::string& version) {
        const json listed = json::parse(run_cli({"plugins", "--json", "--config", cfg}).out);
        for (const auto& p : listed["plugins"])
            if (p["id"] == "fake_good" && p["version"] == version && p["status"] == "loaded") return p["selection"];
        return json();
    };
    EXPECT_EQ(why(none, "1.0.0"), "version 2.0.0 is newer");
    EXPECT_EQ(why(exact, "2.0.0"), "config pin 1.0.0 selects 1.0.0");
    EXPECT_EQ(why(exact, "1.0.0"), "selected");
    EXPECT_NE(run_cli({"plugins", "--config", exact}).out.find("not selected: config pin 1.0.0 selects 1.0.0"),
              std::string::npos);

    EXPECT_EQ(selected_version({"--config", none}), "2.0.0");
    EXPECT_EQ(selected_version({"--config", exact}), "1.0.0");
    EXPECT_EQ(selected_version({"--config", config("range.yaml", "plugins: {fake_good: \">=1, <2\"}\n")}), "1.0.0");
    EXPECT_EQ(selected_version({"--config", none, "--plugin", "fake_good@1.0.0"}), "1.0.0");
    EXPECT_EQ(selected_version({"--config", none, "--plugin", "fake_good@^2"}), "2.0.0");

    const std::string bad = config("bad.yaml", "plugins: {fake_good: \">=3\"}\n");
    const auto impossible = run_cli({"detect", marker, "--config", bad});
    EXPECT_EQ(impossible.exit_code, 2);
    EXPECT_NE(impossible.err.find(bad + ": plugin pin fake_good \">=3\" matches no loaded build"), std::string::npos)
        << impossible.err;
    EXPECT_NE(impossible.err.find("1.0.0"), std::string::npos) << impossible.err;
    EXPECT_NE(impossible.err.find("2.0.0"), std::string::npos) << impossible.err;
    const auto forced = run_cli({"detect", marker, "--config", none, "--plugin", "fake_good@3.1"});
    EXPECT_EQ(forced.exit_code, 4);
    EXPECT_NE(forced.err.find("found 1.0.0, 2.0.0"), std::string::npos) << forced.err;
}

TEST(Cli, InspectJsonHasTheDocumentedShape) {
    const auto r = run_cli({"inspect", corpus("torch/fairseq_like.pt"), "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json j = json::parse(r.out);
    EXPECT_EQ(j["container"], "torch-zip");
    EXPECT_EQ(j["roots"][0]["path"], "model");
    EXPECT_EQ(j["roots"][0]["tensors"], 2);
    EXPECT_EQ(j["roots"][0]["bytes"], 224);
    EXPECT_EQ(j["tensors"][0]["key"], "encoder.embed_tokens.weight");
    EXPECT_EQ(j["tensors"][0]["dtype"], "f32");
    EXPECT_EQ(j["tensors"][0]["shape"], json::array({8, 4}));
    EXPECT_EQ(j["extras"][0]["path"], "args");
    EXPECT_EQ(j["extras"][0]["type"], "argparse.Namespace");
    const auto filtered = run_cli({"inspect", corpus("torch/fairseq_like.pt"), "--json", "--keys", "*fc1*"});
    EXPECT_EQ(json::parse(filtered.out)["tensors"].size(), 1u);
}

TEST(Cli, BadInputExits3NamingTheFile) {
    const auto r = run_cli({"inspect", corpus("_negative/os_system.pt")});
    EXPECT_EQ(r.exit_code, 3);
    EXPECT_NE(r.err.find("os_system.pt"), std::string::npos);
    EXPECT_NE(r.err.find("unsafe pickle"), std::string::npos);
    EXPECT_EQ(run_cli({"detect", corpus("_negative/truncated.pt")}).exit_code, 3);
}

TEST(Cli, ConfigErrorsExit2WithLocation) {
    TempDir dir;
    std::ofstream(dir / "c.yaml") << "plugins:\n  x: soon\n";
    const auto r = run_cli({"plugins", "--config", (dir / "c.yaml").string()});
    EXPECT_EQ(r.exit_code, 2);
    EXPECT_NE(r.err.find("c.yaml:2:6: key 'plugins.x'"), std::string::npos) << r.err;
}

TEST(Cli, ConfigPluginPathsAndDisabled) {
    TempDir dir;
    std::ofstream(dir / "c.yaml") << "plugin_paths: [\"" << CKPTCONV_FAKE_PLUGIN_DIR
                                  << "\"]\ndisabled: [cogvideox_sat]\n";
    const auto r = run_cli({"plugins", "--json", "--config", (dir / "c.yaml").string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json listing = json::parse(r.out);
    for (const auto& p : listing["plugins"]) {
        if (p["id"] == "cogvideox_sat") {
            EXPECT_FALSE(p["selected"].get<bool>());
        }
        if (p["id"] == "fake_good" && p["version"] == "2.0.0") {
            EXPECT_TRUE(p["selected"].get<bool>());
        }
    }
    const auto d = run_cli({"detect", kSample, "--config", (dir / "c.yaml").string()});
    EXPECT_EQ(d.exit_code, 4) << "a disabled plugin must not be detected";
}

TEST(Cli, PassThroughConvertWritesAndRefusesToClobber) {
    TempDir dir;
    const std::string out = (dir / "out.pt").string();
    const auto first = run_cli({"convert", corpus("torch/tied.pt"), "-o", out, "--plugin", "none"});
    ASSERT_EQ(first.exit_code, 0) << first.err;
    EXPECT_NE(first.err.find("wrote " + out), std::string::npos) << first.err;
    const auto again = run_cli({"convert", corpus("torch/tied.pt"), "-o", out, "--plugin", "none"});
    EXPECT_EQ(again.exit_code, 6);
    EXPECT_NE(again.err.find("already exists (pass --force"), std::string::npos) << again.err;
    EXPECT_EQ(run_cli({"convert", corpus("torch/tied.pt"), "-o", out, "--plugin", "none", "--force"}).exit_code, 0);
    // Converting a file onto itself is refused even with --force, and the input stays as it was.
    const auto before = std::filesystem::file_size(out);
    const auto self = run_cli({"convert", out, "-o", out, "--plugin", "none", "--force", "--to", "safetensors"});
    EXPECT_EQ(self.exit_code, 6);
    EXPECT_NE(self.err.find("is an input of this conversion"), std::string::npos) << self.err;
    EXPECT_EQ(std::filesystem::file_size(out), before);
    EXPECT_EQ(run_cli({"convert", corpus("torch/tied.pt"), "-o", (dir / "no" / "x.pt").string(), "--plugin", "none"})
                  .exit_code,
              6);
    // Failures leave nothing behind: only out.pt is in the folder.
    EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), {}), 1);
}

TEST(Cli, PassThroughToShardedSafetensors) {
    TempDir dir;
    const auto r = run_cli({"convert", kSample, "-o", (dir / "model.safetensors").string(), "--plugin", "none", "--to",
                            "safetensors", "--shard-size", "500KB"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(std::filesystem::exists(dir / "model-00001-of-00003.safetensors")) << r.err;
    EXPECT_TRUE(std::filesystem::exists(dir / "model.safetensors.index.json"));
    const auto back = run_cli({"inspect", "--json", dir.path().string()});
    ASSERT_EQ(back.exit_code, 0) << back.err;
    EXPECT_EQ(json::parse(back.out)["tensors"].size(), 52u);
    EXPECT_EQ(json::parse(back.out)["container"], "safetensors-sharded");
}

TEST(Cli, AutoDetectAndConvertTheSampleToDiffusers) {
    TempDir dir;
    const auto out = dir / "pipe";
    const auto r = run_cli({"convert", kSample, "-o", out.string(), "--report", (dir / "r.json").string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.err.find('\r'), std::string::npos) << "no progress line when stderr is not a terminal";
    EXPECT_TRUE(std::filesystem::exists(out / "transformer" / "config.json"));
    EXPECT_TRUE(std::filesystem::exists(out / "transformer" / "diffusion_pytorch_model.safetensors"));
    std::ifstream f(dir / "r.json");
    const json report = json::parse(f);
    EXPECT_EQ(report["plugin"], "cogvideox_sat");
    EXPECT_EQ(report["format_version"], "1.0");
    EXPECT_EQ(report["roots"][0]["total_in"], 52);
    EXPECT_EQ(report["roots"][0]["total_out"], 64);
    EXPECT_EQ(report["roots"][0]["split"], 8);
    // The folder now holds files: a second run needs --force.
    EXPECT_EQ(run_cli({"convert", kSample, "-o", out.string()}).exit_code, 6);
    EXPECT_EQ(run_cli({"convert", kSample, "-o", out.string(), "--force"}).exit_code, 0);
}

TEST(Cli, CachedWritesGiveTheSameBytes) {
    TempDir dir;
    const auto direct = dir / "direct" / "transformer" / "diffusion_pytorch_model.safetensors";
    const auto cached = dir / "cached" / "transformer" / "diffusion_pytorch_model.safetensors";
    ASSERT_EQ(run_cli({"convert", kSample, "-o", (dir / "direct").string()}).exit_code, 0);
    const auto r = run_cli({"convert", kSample, "-o", (dir / "cached").string(), "--cached-writes"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    std::ifstream a(direct, std::ios::binary), b(cached, std::ios::binary);
    const std::string bytes_a{std::istreambuf_iterator<char>(a), {}}, bytes_b{std::istreambuf_iterator<char>(b), {}};
    EXPECT_FALSE(bytes_a.empty());
    EXPECT_EQ(bytes_a, bytes_b);
}

TEST(Cli, DryRunPrintsThePlanAndWritesNothing) {
    TempDir dir;
    const auto r = run_cli({"convert", kSample, "-o", (dir / "pipe").string(), "--dry-run"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(
        r.out.find(
            "chunk(module/model.diffusion_model.transformer.layers.0.attention.query_key_value.weight, 0/3, dim 0)"
            " -> transformer_blocks.0.attn1.to_q.weight [128, 128]"),
        std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("total_in=52 total_out=64"), std::string::npos);
    EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

TEST(Cli, PlanRefusalsExit5AndNameTheProblem) {
    TempDir dir;
    const auto lora = run_cli({"convert", corpus("cogvideox_sat/1.0/lora_tiny.pt"), "-o", (dir / "x").string()});
    EXPECT_EQ(lora.exit_code, 5);
    EXPECT_NE(lora.err.find("matrix_A.0 belongs to no LoRA partition"), std::string::npos) << lora.err;
    const auto forced = run_cli({"convert", kSample, "-o", (dir / "x").string(), "--format-version", "1.5"});
    EXPECT_EQ(forced.exit_code, 5);
    EXPECT_NE(forced.err.find("patch embedding has the 1.0 layout"), std::string::npos) << forced.err;
    EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

TEST(Cli, VerifyCatchesASingleChangedByte) {
    TempDir dir;
    const auto out = dir / "pipe";
    ASSERT_EQ(run_cli({"convert", kSample, "-o", out.string(), "-q"}).exit_code, 0);
    const auto ok = run_cli({"verify", kSample, out.string(), "--json"});
    ASSERT_EQ(ok.exit_code, 0) << ok.out << ok.err;
    EXPECT_EQ(json::parse(ok.out)["checked"], 64 + 1); // 64 tensors and transformer/config.json
    // Flip one byte inside the tensor data (the last byte of the file is tensor data).
    const auto weights = out / "transformer" / "diffusion_pytorch_model.safetensors";
    {
        std::fstream f(weights, std::ios::in | std::ios::out | std::ios::binary);
        f.seekg(-1, std::ios::end);
        const char c = static_cast<char>(f.get());
        f.seekp(-1, std::ios::end);
        f.put(static_cast<char>(c ^ 0x01));
    }
    const auto bad = run_cli({"verify", kSample, out.string(), "--json"});
    EXPECT_EQ(bad.exit_code, 7) << bad.out << bad.err;
    const json report = json::parse(bad.out);
    ASSERT_EQ(report["different"].size(), 1u);
    EXPECT_TRUE(report["missing"].empty());
    // A written file is checked too.
    std::ofstream(out / "transformer" / "config.json", std::ios::app) << " ";
    const auto config = json::parse(run_cli({"verify", kSample, out.string(), "--json"}).out);
    EXPECT_EQ(config["different"].size(), 2u);
    EXPECT_NE(config["different"].dump().find("transformer/config.json"), std::string::npos) << config.dump();
}

TEST(Cli, VerifyPassThroughAndDiff) {
    TempDir dir;
    const auto st = (dir / "t.safetensors").string();
    ASSERT_EQ(run_cli({"convert", corpus("torch/tied.pt"), "-o", st, "--plugin", "none", "--to", "safetensors", "-q"})
                  .exit_code,
              0);
    EXPECT_EQ(run_cli({"verify", corpus("torch/tied.pt"), st, "--plugin", "none"}).exit_code, 0);
    const auto same =
        run_cli({"diff", corpus("torch/zip_ordereddict.pt"), corpus("torch/legacy_ordereddict.pt"), "--json"});
    EXPECT_EQ(same.exit_code, 0) << same.out;
    EXPECT_EQ(json::parse(same.out)["identical"], 17);
    const auto differ =
        run_cli({"diff", corpus("cogvideox_sat/1.0/t2v_tiny.pt"), corpus("cogvideox_sat/1.0/i2v_tiny.pt"), "--json"});
    EXPECT_EQ(differ.exit_code, 7);
    const json d = json::parse(differ.out);
    EXPECT_FALSE(d["values"].empty());         // same shapes, other random values
    EXPECT_FALSE(d["shape_or_dtype"].empty()); // f16 vs bf16, 16 vs 32 in-channels
    EXPECT_TRUE(d["only_in_b"].size() == 1u);  // the learned pos_embedding
}

TEST(Cli, ConvertUsageErrors) {
    TempDir dir;
    EXPECT_EQ(run_cli({"convert", kSample, "-o", "x", "--to", "onnx"}).exit_code, 2);
    EXPECT_EQ(run_cli({"convert", kSample, "-o", "x", "--option", "novalue"}).exit_code, 2);
    EXPECT_EQ(run_cli({"convert", kSample}).exit_code, 2);
}

} // namespace
} // namespace ckptconv::test
