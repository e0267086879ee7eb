#include "core/io/OutputTransaction.hpp"
#include "core/util/Error.hpp"
#include "tests/support/TestSupport.hpp"

#include <gtest/gtest.h>

#include <fstream>

namespace ckptconv::core {
namespace {

ExitCode code_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.code();
    }
    return ExitCode::Ok;
}

TEST(OutputTransaction, NothingIsLeftWithoutCommit) {
    test::TempDir dir;
    {
        OutputTransaction tx(false, {});
        std::ofstream(tx.stage(dir / "a.pt")) << "partial";
        std::ofstream(tx.stage(dir / "b.pt")) << "partial";
    }
    EXPECT_TRUE(std::filesystem::is_empty(dir.path()));
}

TEST(OutputTransaction, CommitMovesFilesIntoPlace) {
    test::TempDir dir;
    OutputTransaction tx(false, {});
    std::ofstream(tx.stage(dir / "a.pt")) << "done";
    tx.commit();
    EXPECT_TRUE(std::filesystem::exists(dir / "a.pt"));
    EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir.path()), {}), 1);
}

TEST(OutputTransaction, RefusesExistingOutputUnlessForcedAndNeverAnInput) {
    test::TempDir dir;
    std::ofstream(dir / "exists.pt") << "old";
    std::ofstream(dir / "input.pt") << "in";
    EXPECT_EQ(code_of([&] { OutputTransaction(false, {}).stage(dir / "exists.pt"); }), ExitCode::OutputError);
    EXPECT_EQ(code_of([&] { OutputTransaction(true, {}).stage(dir / "exists.pt"); }), ExitCode::Ok);
    EXPECT_EQ(code_of([&] { OutputTransaction(true, {dir / "input.pt"}).stage(dir / "input.pt"); }),
              ExitCode::OutputError);
    EXPECT_EQ(code_of([&] { OutputTransaction(false, {}).stage(dir / "missing" / "x.pt"); }), ExitCode::OutputError);
    EXPECT_EQ(code_of([&] { OutputTransaction(true, {}).stage(dir.path()); }), ExitCode::OutputError);
    std::ifstream in(dir / "input.pt");
    std::string content;
    in >> content;
    EXPECT_EQ(content, "in");
}

} // namespace
} // namespace ckptconv::core

namespace ckptconv::core {
namespace {

void write(const std::filesystem::path& p, const std::string& text) { std::ofstream(p) << text; }
std::string read(const std::filesystem::path& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(OutputTransaction, TemporariesAreUnpredictableAndRecognisable) {
    test::TempDir dir;
    OutputTransaction a(false, {}), b(false, {});
    const auto ta = a.stage(dir / "x.pt");
    const auto tb = b.stage(dir / "x.pt");
    EXPECT_NE(ta, tb); // same target, same pid: still two names
    EXPECT_TRUE(is_ckptconv_temporary(ta.filename().string()));
    EXPECT_FALSE(is_ckptconv_temporary("x.pt"));
    EXPECT_FALSE(is_ckptconv_temporary(".x.pt.ckptconv-tmp-"));
}

TEST(OutputTransaction, AFileThatAppearsMeanwhileIsNeverReplaced) {
    test::TempDir dir;
    OutputTransaction tx(false, {});
    write(tx.stage(dir / "a.pt"), "ours");
    write(dir / "a.pt", "theirs"); // created by someone else after the check
    EXPECT_EQ(code_of([&] { tx.commit(); }), ExitCode::OutputError);
    EXPECT_EQ(read(dir / "a.pt"), "theirs");
}

TEST(OutputTransaction, ForceReplacesOnlyRegularFiles) {
    test::TempDir dir;
    write(dir / "victim", "keep");
    std::filesystem::create_symlink(dir / "victim", dir / "link.pt");
    OutputTransaction tx(true, {});
    EXPECT_EQ(code_of([&] { tx.stage(dir / "link.pt"); }), ExitCode::OutputError);
    EXPECT_EQ(read(dir / "victim"), "keep");
}

TEST(OutputTransaction, StaleTemporariesOfDeadRunsAreSweptAndDoNotMakeAFolderNonEmpty) {
    test::TempDir dir;
    const auto stale = dir / ".a.pt.ckptconv-tmp-999999999-00000000deadbeef";
    write(stale, "partial");
    OutputTransaction check(false, {});
    EXPECT_NO_THROW(check.require_empty_folder(dir.path()));
    OutputTransaction tx(false, {});
    write(tx.stage(dir / "a.pt"), "done");
    EXPECT_FALSE(std::filesystem::exists(stale));
    tx.commit();
    EXPECT_EQ(read(dir / "a.pt"), "done");
}

TEST(OutputTransaction, RetiredFilesGoOnlyWhenForcedAndCommitted) {
    test::TempDir dir;
    write(dir / "old-00002.safetensors", "old");
    {
        OutputTransaction tx(true, {});
        tx.retire(dir / "old-00002.safetensors");
    } // rolled back: nothing removed
    EXPECT_TRUE(std::filesystem::exists(dir / "old-00002.safetensors"));
    OutputTransaction tx(true, {});
    write(tx.stage(dir / "new.safetensors"), "new");
    tx.retire(dir / "old-00002.safetensors");
    tx.commit();
    EXPECT_FALSE(std::filesystem::exists(dir / "old-00002.safetensors"));
    OutputTransaction refused(true, {dir / "new.safetensors"});
    EXPECT_EQ(code_of([&] { refused.retire(dir / "new.safetensors"); }), ExitCode::OutputError);
}

TEST(OutputTransaction, AFolderHoldingAnInputIsNeverAnOutputFolder) {
    test::TempDir dir;
    std::filesystem::create_directories(dir / "sat" / "transformer");
    write(dir / "sat" / "transformer" / "m.pt", "x");
    OutputTransaction tx(true, {dir / "sat" / "transformer" / "m.pt"});
    EXPECT_EQ(code_of([&] { tx.require_empty_folder(dir / "sat"); }), ExitCode::OutputError);
    EXPECT_EQ(code_of([&] { tx.require_empty_folder(dir / "sat" / "transformer"); }), ExitCode::OutputError);
    EXPECT_NO_THROW(tx.require_empty_folder(dir / "elsewhere"));
    // A relative input is judged by where it really is.
    const auto cwd = std::filesystem::current_path();
    std::filesystem::current_path(dir / "sat");
    OutputTransaction relative(true, {"transformer/m.pt"});
    EXPECT_EQ(code_of([&] { relative.require_empty_folder("transformer"); }), ExitCode::OutputError);
    std::filesystem::current_path(cwd);
}

} // namespace
} // namespace ckptconv::core
