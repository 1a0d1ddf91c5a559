#!/bin/sh
# Installs the build into a temporary prefix, then: the installed tool finds its library and
# plugins with no environment, and a separate project builds against find_package(milo).
# usage: install_test.sh BUILD_DIR SOURCE_DIR [build-consumer|skip-consumer]
set -eu
build="$1"
src="$2"
consumer="${3:-build-consumer}"
tmp="$(mktemp -d /tmp/milo-install-XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
unset MILO_PLUGIN_PATH LD_LIBRARY_PATH || true
"$tmp/prefix/bin/milo" plugins | grep -q "safetensors" || { echo "installed milo lacks plugins"; exit 1; }
"$tmp/prefix/bin/milo" convert "$src/docs/examples/models/iris_mlp.safetensors" "$tmp/m.json" >/dev/null
"$tmp/prefix/bin/milo" validate "$tmp/m.json" >/dev/null
test -f "$tmp/prefix/lib/pkgconfig/milo.pc" -o -f "$tmp"/prefix/lib/*/pkgconfig/milo.pc
if [ "$consumer" = skip-consumer ]; then
  echo "install test: installed tool and plugins ok; consumer project skipped (sanitizer build)"
  exit 0
fi
cmake -S "$src/tests/install/consumer" -B "$tmp/consumer" -DCMAKE_PREFIX_PATH="$tmp/prefix" \
  -DCMAKE_BUILD_RPATH="$tmp/prefix/lib" >/dev/null
cmake --build "$tmp/consumer" >/dev/null
"$tmp/consumer/consumer_c" | grep -q "values=4 abi=1" || { echo "C consumer failed"; exit 1; }
"$tmp/consumer/consumer_cpp" >/dev/null || { echo "C++ consumer did not find the installed plugins"; exit 1; }
echo "install test: installed tool, plugins, find_package(milo) from C and C++: ok"
