#!/usr/bin/env bash
# libssmail without the standard library or an allocator (`--no-default-features`): the
# ciphers in caller memory, Diffie-Hellman and the key derivation, as a static library
# for thumbv7em-none-eabihf (Cortex-M4F/M7) and i586-unknown-linux-gnu (Pentium), built
# with Debian's rustc 1.85 and -Zbuild-std=core, panic=abort. The i586 library is linked
# into the C vector test (gcc -m32, no allocator calls in the library) and run, natively
# and under valgrind; for both targets the code size is printed: the objects an
# application pulls in when it calls all seven functions (rust-lld --gc-sections), and the
# whole archive. Usage: capi/firmware.sh (from anywhere; needs gcc-multilib, valgrind).
set -euo pipefail
cd "$(dirname "$0")/.."
export RUSTC=${RUSTC:-/usr/bin/rustc} RUSTC_BOOTSTRAP=1 CARGO_PROFILE_RELEASE_PANIC=abort
LLD="$(env -u RUSTC rustc --print sysroot)/lib/rustlib/x86_64-unknown-linux-gnu/bin/rust-lld"
ROOTS=(ssmail_cipher_init ssmail_cipher_apply ssmail_cipher_wipe ssmail_dh_public_key
  ssmail_dh_shared_secret ssmail_derive_keys ssmail_result_str)
OUT=${CARGO_TARGET_DIR:-target}/capi-firmware
mkdir -p "$OUT"

for target in thumbv7em-none-eabihf i586-unknown-linux-gnu; do
  echo "--- libssmail (libssmail_capi.a) for $target (no std, no allocator)"
  CARGO_TARGET_DIR=target/capi-$target cargo rustc --locked -q -Zbuild-std=core \
    --target "$target" -p ssmail-capi --no-default-features --release --lib --crate-type staticlib
  lib=target/capi-$target/$target/release/libssmail_capi.a
  # Nothing from std may be in it: every std symbol would show as undefined here.
  if nm -u "$lib" 2>/dev/null | grep -q '_ZN3std'; then
    echo "$lib refers to std" >&2
    exit 1
  fi
  "$LLD" -flavor gnu -o "$OUT/$target.elf" --gc-sections --entry=0 \
    "${ROOTS[@]/#/--undefined=}" --unresolved-symbols=ignore-all "$lib"
  echo "code size, all seven functions linked (--gc-sections), bytes:"
  size "$OUT/$target.elf"
  echo "whole archive (includes compiler_builtins, unused code): $(size -t "$lib" | tail -1 | awk '{print $1}') bytes text"
done

echo "--- the C vector test against the i586 library (cipher in caller memory)"
gcc -m32 -march=pentium -std=c11 -O2 -g -Wall -Wextra -Werror -Wpedantic -DSSMAIL_TEST_NO_ALLOC \
  -Icapi/include -o "$OUT/vectors-i586" capi/tests/c/vectors.c \
  target/capi-i586-unknown-linux-gnu/i586-unknown-linux-gnu/release/libssmail_capi.a
"$OUT/vectors-i586" vectors/data
valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect \
  "$OUT/vectors-i586" vectors/data
