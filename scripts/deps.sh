#!/usr/bin/env bash
# Installs the Debian packages Milo needs, only those that are missing (idempotent).
set -euo pipefail
pkgs=(cmake g++ make pkg-config nlohmann-json3-dev libyaml-cpp-dev libprotobuf-dev
      protobuf-compiler catch2 libonnx-dev clang libclang-rt-14-dev python3-venv python3-numpy
      zlib1g-dev libbz2-dev liblzma-dev liblz4-dev python3-sklearn python3-joblib python3-lz4
      python3-torch)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#pkgs[@]} packages present"
  exit 0
fi
echo "deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
