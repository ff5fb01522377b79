#!/usr/bin/env bash
# libssmail's C tests: build and install into a temporary prefix (capi/install.sh), then
# compile each C test and example against the *installed* header and library through
# pkg-config, linked shared and static, and run them plain, under valgrind memcheck (no
# errors, no leaks) and built with AddressSanitizer + UndefinedBehaviorSanitizer; then
# the constant-time check through the C entry points (valgrind, secrets undefined) with
# its negative control. Usage: capi/ctest.sh [--keep PREFIX]. Needs cc, pkg-config,
# valgrind (and its memcheck.h).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
if [ "${1:-}" = "--keep" ]; then
  PREFIX=$2
  mkdir -p "$PREFIX"
else
  PREFIX=$(mktemp -d)
  trap 'rm -rf "$PREFIX"' EXIT
fi
BIN=$PREFIX/tests
mkdir -p "$BIN"
CC=${CC:-cc}
CFLAGS=(-std=c11 -O1 -g -Wall -Wextra -Werror -Wpedantic)

say() { printf -- '--- %s\n' "$*"; }

# Line tables in the library: valgrind then names inlined frames, which the
# constant-time check's two suppressions need (capi/tests/c/ct_valgrind.supp); the code
# is the same as without them. Own target dir, so the workspace's release builds keep theirs.
export CARGO_PROFILE_RELEASE_DEBUG=line-tables-only
export CARGO_TARGET_DIR=${CAPI_TARGET_DIR:-target/capi}

say "install into $PREFIX"
bash capi/install.sh "$PREFIX"
export PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig
pkg-config --exists ssmail
LIBDIR=$(pkg-config --variable=libdir ssmail)
# shellcheck disable=SC2207
PC_CFLAGS=($(pkg-config --cflags ssmail))
# shellcheck disable=SC2207
PC_SHARED=($(pkg-config --libs ssmail) "-Wl,-rpath,$LIBDIR")
# Static: the archive itself plus the system libraries it needs (Libs.private).
# shellcheck disable=SC2207
PC_STATIC=("$LIBDIR/libssmail.a" $(pkg-config --static --libs-only-l ssmail | sed 's/-lssmail\b//'))

# build NAME SOURCE LINK EXTRA... : compiles one test program into $BIN/NAME.
build() {
  local name=$1 src=$2 link=$3
  shift 3
  local libs
  if [ "$link" = shared ]; then libs=("${PC_SHARED[@]}"); else libs=("${PC_STATIC[@]}"); fi
  "$CC" "${CFLAGS[@]}" "$@" "${PC_CFLAGS[@]}" -o "$BIN/$name" "$src" "${libs[@]}"
}

VG=(valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect)
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# run_all NAME SOURCE ARGS...: shared and static, plain, valgrind, ASan+UBSan.
run_all() {
  local name=$1 src=$2
  shift 2
  for link in shared static; do
    build "$name-$link" "$src" "$link"
    say "$name ($link)"
    "$BIN/$name-$link" "$@"
    say "$name ($link) under valgrind memcheck"
    "${VG[@]}" "$BIN/$name-$link" "$@"
    build "$name-$link-asan" "$src" "$link" -fsanitize=address,undefined -fno-sanitize-recover=all \
      -fno-omit-frame-pointer
    say "$name ($link) with AddressSanitizer + UndefinedBehaviorSanitizer"
    "$BIN/$name-$link-asan" "$@"
  done
}

# The static programs must not need the shared library; the shared ones must name its soname.
build probe-static capi/tests/c/errors.c static
if readelf -d "$BIN/probe-static" | grep -q 'libssmail'; then
  echo "the static link still needs libssmail.so" >&2
  exit 1
fi
build probe-shared capi/tests/c/errors.c shared
readelf -d "$BIN/probe-shared" | grep -q 'NEEDED.*\[libssmail\.so\.0\]'

run_all vectors capi/tests/c/vectors.c "$ROOT/vectors/data"
run_all errors capi/tests/c/errors.c
# The last-exchange report (version, key cache hit or miss) and the version list.
mkdir -p "$PREFIX/exchange"
run_all exchange capi/tests/c/exchange.c "$PREFIX/exchange/cache"
# ssmail_keys_flush per session: no file work when nothing is only in memory, nothing lost.
mkdir -p "$PREFIX/flush"
run_all flush capi/tests/c/flush.c "$PREFIX/flush/cache"

# The two examples: a C server and a C client, an exchange over a UNIX socket, then one
# message under the ciphers; the server prints what it received.
MESSAGE=$'Subject: libssmail example\n\n.a line that starts with a dot\nbody\n'
pair() {
  local tag=$1
  shift
  local sock=$PREFIX/ex.sock out=$PREFIX/ex.out
  rm -f "$sock"
  "$@" "$BIN/ex-server-$tag" "$sock" "$PREFIX/server.cache" >"$out" &
  local server=$!
  for _ in $(seq 100); do [ -S "$sock" ] && break; sleep 0.1; done
  printf '%s' "$MESSAGE" | "$@" "$BIN/ex-client-$tag" "$sock"
  wait "$server"
  [ "$(tr -d '\r' <"$out")" = "$(printf '%s' "$MESSAGE")" ] || {
    echo "the server received something else:" >&2
    cat "$out" >&2
    exit 1
  }
}
for link in shared static; do
  for side in server client; do
    build "ex-$side-$link" "capi/examples/$side.c" "$link" -D_DEFAULT_SOURCE
    build "ex-$side-$link-asan" "capi/examples/$side.c" "$link" -D_DEFAULT_SOURCE \
      -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
  done
  say "examples ($link): C client and C server reach XCRYPT and carry a message"
  pair "$link"
  say "examples ($link) under valgrind memcheck (the second run reuses the server's cache file)"
  pair "$link" "${VG[@]}"
  say "examples ($link) with AddressSanitizer + UndefinedBehaviorSanitizer"
  pair "$link-asan"
done

# Fifty processes at a time on one cache file, 300 of them SIGKILLed at random moments
# (and replaced): all the others finish, the file stays valid, its pair is taken over,
# and exactly one pair serves them all (the lifetime is longer than the run). It prints
# how many writes the kills cut. About two seconds.
build multiproc capi/tests/c/multiproc.c static
say "fifty processes at a time sharing one cache file, 300 SIGKILLed"
mkdir -p "$PREFIX/multiproc"
"$BIN/multiproc" "$PREFIX/multiproc/cache" 50 20 300 --one-pair

for link in shared static; do
  build "ct_valgrind-$link" capi/tests/c/ct_valgrind.c "$link"
  say "constant time through the C entry points ($link): valgrind memcheck, secrets undefined"
  CT=(valgrind -q --error-exitcode=1 --suppressions=capi/tests/c/ct_valgrind.supp)
  "${CT[@]}" "$BIN/ct_valgrind-$link"
  # The negative controls: a secret branch in C, RC4's secret-indexed key schedule
  # inside the library, and a saved-state counter that restore checks, marked secret.
  # All must be reported, or the check proves nothing.
  for control in --leak --leak-cipher --leak-restore; do
    if "${CT[@]}" "$BIN/ct_valgrind-$link" "$control" >/dev/null 2>&1; then
      echo "ct_valgrind $control passed: the constant-time check cannot see a leak" >&2
      exit 1
    fi
    echo "ct_valgrind $control ($link): caught, as it must be"
  done
done

say "done: every C test passed (shared and static; plain, valgrind, ASan+UBSan; constant time)"
