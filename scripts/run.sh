#!/usr/bin/env bash
# The main job: set up, build, then auto-detect and convert the checkpoint
# given (or the bundled sample) into out/<name>, printing the report.
#   scripts/run.sh [CHECKPOINT] [extra ckptconv convert options]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh >/dev/null
input="${1:-samples/cogvideox_sat_t2v_tiny.pt}"
[ $# -gt 0 ] && shift
name="$(basename "${input%.*}")"
mkdir -p out
echo "== ckptconv detect $input"
build/bin/ckptconv detect "$input"
echo
echo "== ckptconv convert $input -o out/$name --force $*"
build/bin/ckptconv convert "$input" -o "out/$name" --force "$@"
