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
