#!/usr/bin/env bash
# The main job: set up, build, then auto-detect the checkpoint given (or the
# bundled sample) and show what ckptconv sees in it.
#   scripts/run.sh [CHECKPOINT] [extra ckptconv detect options]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh >/dev/null
input="${1:-samples/cogvideox_sat_t2v_tiny.pt}"
[ $# -gt 0 ] && shift
echo "== ckptconv detect $input"
build/bin/ckptconv detect "$input" "$@"
echo
echo "== ckptconv inspect $input (first keys)"
build/bin/ckptconv inspect "$input" | head -n 20
