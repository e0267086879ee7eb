#!/usr/bin/env bash
# Set up, build, check formatting, and run every test (ctest; labels: core, sdk, cli, contract, oracle, <plugin>).
#   scripts/test.sh [ctest options, e.g. -L cogvideox_sat]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
git ls-files -z '*.c' '*.cpp' '*.h' '*.hpp' | xargs -0 clang-format --dry-run --Werror
ctest --test-dir build --output-on-failure -j "$(nproc)" "$@"
