#!/usr/bin/env bash
# First command of the README: install what is missing, build, and run the main job on the
# bundled example: convert a model file into a readable Milo document and inspect it.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/scripts/deps.sh"
"$root/scripts/build.sh" "$root/build"
milo="$root/build/bin/milo"
model="$root/docs/examples/models/iris_mlp.safetensors"
out="$root/build/example/iris_mlp.milo.json"
mkdir -p "$(dirname "$out")"
echo
echo "\$ milo convert docs/examples/models/iris_mlp.safetensors build/example/iris_mlp.milo.json --tensors readable"
"$milo" convert "$model" "$out" --tensors readable
echo
echo "\$ milo inspect build/example/iris_mlp.milo.json"
"$milo" inspect "$out"
