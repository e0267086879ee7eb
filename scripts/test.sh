#!/usr/bin/env bash
# Set up, build, check formatting, and run every test (ctest; labels: core, sdk, cli, contract, oracle, <plugin>).
#   scripts/test.sh [ctest options, e.g. -L cogvideox_sat]
#   scripts/test.sh --sanitize [ctest options]   the same suite built with ASan+UBSan into build-asan/
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
if [ "${1:-}" = "--sanitize" ]; then
  shift
  generator=()
  command -v ninja >/dev/null && generator=(-G Ninja)
  [ -f build-asan/CMakeCache.txt ] || cmake -S . -B build-asan "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCKPTCONV_SANITIZE=ON -DCKPTCONV_WERROR=OFF  # GCC warns falsely on instrumented std headers
  cmake --build build-asan -j "$(nproc)"
  # Leaks are checked; libtorch's own start-up allocations stay alive until exit by design.
  # intercept_tls_get_addr=0: with libtorch dlopen'ed, GCC 12's LSan reads a bogus dynamic-TLS range
  # and its tracer dies (SIGSEGV) at exit before checking anything. Static TLS is still scanned.
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:intercept_tls_get_addr=0" UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  export LSAN_OPTIONS="suppressions=$PWD/tests/sanitizer/lsan.supp"
  ctest --test-dir build-asan --output-on-failure -j "$(nproc)" --timeout 900 "$@"
  exit
fi
scripts/build.sh
git ls-files -z '*.c' '*.cpp' '*.h' '*.hpp' | xargs -0 clang-format --dry-run --Werror
ctest --test-dir build --output-on-failure -j "$(nproc)" "$@"
