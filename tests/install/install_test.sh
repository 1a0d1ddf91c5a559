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
"$tmp/consumer/consumer_c" | grep -q "values=4 abi=2" || { echo "C consumer failed"; exit 1; }
"$tmp/consumer/consumer_cpp" >/dev/null || { echo "C++ consumer did not find the installed plugins"; exit 1; }

# plugins/template, copied out of the tree as its README says, built against the installed SDK
# with find_package(milo) and with pkg-config alone; the installed tool loads both builds.
cp -r "$src/plugins/template" "$tmp/acme"
cmake -S "$tmp/acme" -B "$tmp/acme/build" -DCMAKE_PREFIX_PATH="$tmp/prefix" \
  -DCMAKE_C_FLAGS="-Werror" >/dev/null
cmake --build "$tmp/acme/build" >/dev/null
pcdir="$(dirname "$(ls "$tmp"/prefix/lib/pkgconfig/milo.pc "$tmp"/prefix/lib/*/pkgconfig/milo.pc 2>/dev/null | head -n1)")"
(cd "$tmp/acme" && PKG_CONFIG_PATH="$pcdir" cc -std=c99 -Wall -Wextra -pedantic -Werror -fPIC \
   -fvisibility=hidden -shared $(PKG_CONFIG_PATH="$pcdir" pkg-config --cflags milo) src/*.c \
   -o "$tmp/milo_acme_pc.so")
for so in "$tmp/acme/build/milo_acme.so" "$tmp/milo_acme_pc.so"; do
  exports="$(nm -D --defined-only "$so" | awk '$2 == "T" {print $3}')"
  [ "$exports" = milo_register ] || { echo "$so exports: $exports"; exit 1; }
  ! nm -D --undefined-only "$so" | grep -q ' milo_' || { echo "$so links libmilo symbols"; exit 1; }
  # ACMESCR1, name "t", threshold 0.5, weights [1, -2]
  printf 'ACMESCR1\001\000\000\000t\000\000\000\000\000\000\340\077\002\000\000\000\000\000\000\000\000\000\360\077\000\000\000\000\000\000\000\300' >"$tmp/t.acmescore"
  "$tmp/prefix/bin/milo" --plugin "$so" convert "$tmp/t.acmescore" "$tmp/t.props" >/dev/null
  grep -qx 'weights=f64:1,-2' "$tmp/t.props" || { echo "template plugin: wrong props"; exit 1; }
  MILO_PLUGIN_PATH="$(dirname "$so")" "$tmp/prefix/bin/milo" --plugin "$so" convert "$tmp/t.props" "$tmp/back.acmescore" >/dev/null
  cmp -s "$tmp/t.acmescore" "$tmp/back.acmescore" || { echo "template plugin: round trip differs"; exit 1; }
done
cmake --install "$tmp/acme/build" --prefix "$tmp/prefix" >/dev/null
"$tmp/prefix/bin/milo" plugins | grep -q "acme.scorer" || { echo "installed template plugin not found"; exit 1; }
echo "install test: installed tool, plugins, find_package(milo) from C and C++, template plugin out of tree (CMake and pkg-config): ok"
