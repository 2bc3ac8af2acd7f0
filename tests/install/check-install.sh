#!/usr/bin/env bash
# Installs a built nk tree into a temporary prefix and uses it from outside the tree:
#   1. the install has the tools, the headers, the CMake package and nk.pc;
#   2. tests/install/consumer (find_package(nk), links nk::nanokernel and nk::ipc; nk::rpc with
#      code from nk_protobuf_generate) configures, builds and runs against it, and protoc with the
#      installed protoc-gen-nk makes code for tests/unit/rpc/golden/tricky.proto that compiles
#      with -I<prefix>/include;
#   3. the same main.cpp builds with `$(pkg-config --cflags --libs nk)` and runs;
#   4. the C consumer (c_consumer.c, the C ABI) is built by the consumer project (step 2) and
#      with `$(pkg-config --cflags --libs nk-c)`, as C, and runs.
#
#   tests/install/check-install.sh BUILD_DIR SOURCE_DIR
#
# The consumer is built with the compiler and sanitizers that BUILD_DIR was configured with:
# static libraries built with -fsanitize need the sanitizer runtime at link time.
# NK_KEEP_INSTALL_TMP=1 keeps the temporary prefix for a look after a failure.
set -euo pipefail

if (($# != 2)); then
  echo "usage: $0 BUILD_DIR SOURCE_DIR" >&2
  exit 2
fi

fail() {
  echo "check-install: FAIL: $*" >&2
  exit 1
}

[[ -d "$1" ]] || fail "build directory $1 does not exist"
[[ -f "$2/tests/install/consumer/CMakeLists.txt" ]] || fail "$2 is not nk's source directory"
build_dir=$(cd "$1" && pwd)
source_dir=$(cd "$2" && pwd)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/nk-install-check.XXXXXX")
cleanup() {
  if [[ "${NK_KEEP_INSTALL_TMP:-0}" == 1 ]]; then
    echo "check-install: kept $tmp"
  else
    rm -rf "$tmp"
  fi
}
trap cleanup EXIT
prefix=$tmp/prefix

# Runs a command with its output in a log, which is shown only if the command fails.
run() {
  local what=$1 log=$tmp/$2.log
  shift 2
  echo "check-install: $what"
  if ! "$@" >"$log" 2>&1; then
    cat "$log" >&2
    fail "$what (command: $*)"
  fi
}

cache_value() {
  sed -n "s/^$1:[A-Z]*=//p" "$build_dir/CMakeCache.txt" | head -n1
}
[[ -f "$build_dir/CMakeCache.txt" ]] || fail "$build_dir is not a configured CMake build directory"
cxx=$(cache_value CMAKE_CXX_COMPILER)
cc=$(cache_value CMAKE_C_COMPILER)
sanitize=$(cache_value NK_SANITIZE)
libdir=$(cache_value CMAKE_INSTALL_LIBDIR)
[[ -n "$cxx" ]] || fail "no CMAKE_CXX_COMPILER in $build_dir/CMakeCache.txt"
[[ -n "$cc" ]] || fail "no CMAKE_C_COMPILER in $build_dir/CMakeCache.txt"
[[ "$libdir" = /* ]] || libdir=$prefix/${libdir:-lib}
san_flags=()
[[ -z "$sanitize" ]] || san_flags=("-fsanitize=${sanitize//;/,}")
echo "check-install: $build_dir -> $prefix (compiler $cxx${sanitize:+, sanitizers $sanitize})"

# 1. What the install must contain.
run "cmake --install" install cmake --install "$build_dir" --prefix "$prefix"
for f in bin/nkctl bin/nkd bin/protoc-gen-nk include/nk/nanokernel/region.hpp include/nk/rpc/service.hpp \
         include/nk/nk.h include/nk/nk_rpc.h; do
  [[ -f "$prefix/$f" ]] || fail "the install has no $f"
done
for f in cmake/nk/nkConfig.cmake cmake/nk/nkConfigVersion.cmake cmake/nk/nkTargets.cmake \
         cmake/nk/NkProtobuf.cmake pkgconfig/nk.pc pkgconfig/nk-c.pc libnk_c.so; do
  [[ -f "$libdir/$f" ]] || fail "the install has no ${libdir#"$prefix"/}/$f"
done
# An installed package must not point back into the tree it was built from.
if leaks=$(grep -l -r -F -e "$source_dir" -e "$build_dir" "$libdir/cmake/nk" "$libdir/pkgconfig"); then
  fail "installed files refer to the source or build tree: $leaks"
fi

# 2. find_package(nk) from a project outside the tree.
consumer_build=$tmp/consumer-build
run "configure the consumer with CMAKE_PREFIX_PATH=$prefix" consumer-configure \
  cmake -S "$source_dir/tests/install/consumer" -B "$consumer_build" \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_C_COMPILER="$cc" \
  -DCMAKE_CXX_FLAGS="${san_flags[*]}" -DCMAKE_C_FLAGS="${san_flags[*]}" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
found=$(sed -n 's/^nk_DIR:[A-Z]*=//p' "$consumer_build/CMakeCache.txt")
[[ "$found" == "$prefix"/* ]] || fail "the consumer found nk in '$found', not in the install $prefix"
run "build the consumer" consumer-build cmake --build "$consumer_build"
run "run the consumer" consumer-run "$consumer_build/nk_consumer"
run "run the C consumer" c-consumer-run "$consumer_build/nk_c_consumer"

run "run the rpc consumer (nk_protobuf_generate)" rpc-consumer-run "$consumer_build/nk_rpc_consumer"

# 2b. protoc with the installed plugin, by hand: the output compiles with -I<prefix>/include -I<out>.
gen=$tmp/generated
mkdir -p "$gen"
run "protoc --nk_out with the installed protoc-gen-nk" protoc-nk \
  protoc --plugin=protoc-gen-nk="$prefix/bin/protoc-gen-nk" --cpp_out="$gen" --nk_out="$gen" \
  -I"$source_dir/tests/unit/rpc/golden" "$source_dir/tests/unit/rpc/golden/tricky.proto"
run "compile tricky.nk.cc with -I$prefix/include -I$gen" protoc-nk-compile \
  "$cxx" -std=c++20 "${san_flags[@]}" -I"$prefix/include" -I"$gen" -c "$gen/tricky.nk.cc" -o "$tmp/tricky.nk.o"

# 2c. The rpc C ABI: a C program builds against nk/nk_rpc.h and libnk_rpc.so alone.
cc=$(cache_value CMAKE_C_COMPILER)
# Compiled as C; linked by the C++ driver, which brings the sanitizer runtime's C++ parts that a
# sanitized libnk_rpc.so needs (a plain build links the same with cc).
run "compile a C program with $cc" c-abi-compile \
  "$cc" -std=c11 "${san_flags[@]}" -I"$prefix/include" -c "$source_dir/tests/unit/rpc/c_abi_peer.c" -o "$tmp/c_abi_peer.o"
run "link it with -lnk_rpc" c-abi-build \
  "$cxx" "${san_flags[@]}" "$tmp/c_abi_peer.o" -L"$libdir" -Wl,-rpath,"$libdir" -lnk_rpc -o "$tmp/nk_rpc_c_peer"
run "run the C program (its usage)" c-abi-run sh -c "'$tmp/nk_rpc_c_peer'; test \$? -eq 2"

# 3. pkg-config.
export PKG_CONFIG_PATH=$libdir/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
run "pkg-config finds nk" pkg-config-exists pkg-config --print-errors --exists nk
read -r -a pc_flags <<<"$(pkg-config --cflags --libs nk)"
run "build main.cpp with $cxx \$(pkg-config --cflags --libs nk)" pc-build \
  "$cxx" -std=c++20 "${san_flags[@]}" "$source_dir/tests/install/consumer/main.cpp" \
  "${pc_flags[@]}" -o "$tmp/nk_consumer_pc"
# LD_LIBRARY_PATH for a BUILD_SHARED_LIBS build, whose libraries are not on the default path.
run "run the pkg-config build" pc-run \
  env LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$tmp/nk_consumer_pc"

# 4. The C ABI with pkg-config, compiled as C.
run "pkg-config finds nk-c" pkg-config-c-exists pkg-config --print-errors --exists nk-c
read -r -a pc_c_flags <<<"$(pkg-config --cflags --libs nk-c)"
run "build c_consumer.c with $cc \$(pkg-config --cflags --libs nk-c)" pc-c-build \
  "$cc" -std=c99 -pedantic-errors "${san_flags[@]}" "$source_dir/tests/install/consumer/c_consumer.c" \
  "${pc_c_flags[@]}" -o "$tmp/nk_c_consumer_pc"
run "run the pkg-config C build" pc-c-run \
  env LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" "$tmp/nk_c_consumer_pc"

echo "check-install: OK: installed nk is found and linked by CMake and by pkg-config, from C++ and from C"
