#!/usr/bin/env bash
# Installs the Debian 12 packages ckptconv builds and tests with; a no-op when all are present.
set -euo pipefail
packages=(
  build-essential cmake ninja-build ccache clang-format
  libtorch-dev python3-torch python3-numpy python3-sentencepiece
  libboost-dev libboost-filesystem-dev libboost-program-options-dev
  libyaml-cpp-dev libgtest-dev nlohmann-json3-dev zlib1g-dev
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
