#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs the four side by side for
# SECONDS (default 600) each, seeded with the test corpus and the hostile corpus. New crashes land
# in build-fuzz/findings/<target>/; keep each as a regression input in tests/corpus/_fuzz/.
#   tests/fuzz/run_fuzzers.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds="${1:-600}"
command -v clang++ >/dev/null || { echo "clang++ is needed (apt-get install clang)" >&2; exit 2; }
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCKPTCONV_FUZZ=ON -DCKPTCONV_BUILD_TESTS=OFF \
  -DCKPTCONV_WERROR=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS="-fsanitize=address,undefined,fuzzer-no-link -fno-sanitize-recover=undefined" >/dev/null
cmake --build build-fuzz -j "$(nproc)" --target fuzz_torch_checkpoint fuzz_safetensors fuzz_pickle fuzz_deepspeed_folder
mkdir -p build-fuzz/corpus/{torch,safetensors,pickle,deepspeed} build-fuzz/findings/{torch,safetensors,pickle,deepspeed}
# A DeepSpeed input is a fixture folder with one file replaced: the target writes one seed per file.
export CKPTCONV_FUZZ_DEEPSPEED="$PWD/tests/corpus/deepspeed"
CKPTCONV_FUZZ_WRITE_SEEDS=build-fuzz/corpus/deepspeed build-fuzz/bin/fuzz_deepspeed_folder
cp tests/corpus/torch/*.pt tests/corpus/cogvideox_sat/1.0/t2v_tiny.pt tests/corpus/_negative/*.pt build-fuzz/corpus/torch/
find tests/corpus/_hostile -name '*.pt' -size -100k -exec cp {} build-fuzz/corpus/torch/ \;
cp tests/corpus/safetensors/*.safetensors tests/corpus/_negative/*.safetensors build-fuzz/corpus/safetensors/
find tests/corpus/_hostile -name '*.safetensors' -exec cp {} build-fuzz/corpus/safetensors/ \;
for f in tests/corpus/torch/*.pt $(find tests/corpus/_hostile -name '*.pt' -size -100k); do
  unzip -p "$f" '*/data.pkl' > "build-fuzz/corpus/pickle/$(basename "$f").pkl" 2>/dev/null || true
done
run() {
  local target=$1 corpus=$2
  "build-fuzz/bin/$target" "build-fuzz/corpus/$corpus" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 \
    -artifact_prefix="build-fuzz/findings/$corpus/" -print_final_stats=1 2>&1 | tail -n 12
}
run fuzz_torch_checkpoint torch > build-fuzz/torch.log &
run fuzz_safetensors safetensors > build-fuzz/safetensors.log &
run fuzz_pickle pickle > build-fuzz/pickle.log &
run fuzz_deepspeed_folder deepspeed > build-fuzz/deepspeed.log &
wait
for t in torch safetensors pickle deepspeed; do echo "== $t"; cat "build-fuzz/$t.log"; done
