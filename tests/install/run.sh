#!/bin/sh
# Usage: run.sh CMAKE BUILD_DIR PROJECT_DIR CXX "CXXFLAGS" "LDFLAGS"
# Installs BUILD_DIR into a temp prefix and builds and runs PROJECT_DIR's app against
# it twice: with find_package(mq) and with `pkg-config --cflags --libs mq`.
set -eu
cmake_bin=$1 build_dir=$2 project_dir=$3 cxx=$4 cxxflags=$5 ldflags=$6

work=$(mktemp -d "${TMPDIR:-/tmp}/mq-install-check.XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

echo "== cmake --install $build_dir --prefix $prefix"
"$cmake_bin" --install "$build_dir" --prefix "$prefix" >"$work/install.log" || { cat "$work/install.log"; exit 1; }

echo "== find_package(mq)"
"$cmake_bin" -S "$project_dir" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_CXX_COMPILER="$cxx" \
  -DCMAKE_CXX_FLAGS="$cxxflags" -DCMAKE_EXE_LINKER_FLAGS="$ldflags" >"$work/configure.log" \
  || { cat "$work/configure.log"; exit 1; }
"$cmake_bin" --build "$work/build"
"$work/build/app"

echo "== pkg-config --cflags --libs mq"
# The .pc file sits in <libdir>/pkgconfig whatever the libdir is called.
pc_dir=$(dirname "$(find "$prefix" -name mq.pc | head -n 1)")
flags=$(PKG_CONFIG_PATH="$pc_dir" pkg-config --cflags --libs mq)
echo "pkg-config: $flags"
# shellcheck disable=SC2086 # the flags are meant to split into words
"$cxx" $cxxflags "$project_dir/app.cpp" -o "$work/app_pc" $flags $ldflags
# The library is not in the loader's path: point it at the prefix's libdir.
LD_LIBRARY_PATH="$(PKG_CONFIG_PATH="$pc_dir" pkg-config --variable=libdir mq)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
  "$work/app_pc"
echo "== install check passed"
