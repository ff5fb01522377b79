#!/usr/bin/env bash
# Builds libssmail (release) and installs it under a prefix:
#   PREFIX/lib/libssmail.a, PREFIX/lib/libssmail.so.VERSION (+ .so.0 and .so links),
#   PREFIX/include/ssmail.h, PREFIX/lib/pkgconfig/ssmail.pc
# Usage: capi/install.sh PREFIX   (DESTDIR is honoured, as packagers expect)
# A script rather than cargo-c: cargo-c is a long `cargo install` for CI, and one ELF
# platform needs only these few copies plus the .pc file written here.
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 PREFIX" >&2; exit 2; }
PREFIX=$1
case $PREFIX in /*) ;; *) PREFIX="$(pwd)/$PREFIX" ;; esac
cd "$(dirname "$0")/.."
DEST="${DESTDIR:-}$PREFIX"

# One build; rustc also prints the system libraries a static link needs.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo rustc --locked --release -p ssmail-capi --lib -- --print native-static-libs 2>"$log" \
  || { cat "$log" >&2; exit 1; }
static_libs=$(sed -n 's/.*native-static-libs: //p' "$log" | head -1)
[ -n "$static_libs" ] || { cat "$log" >&2; echo "no native-static-libs line" >&2; exit 1; }

version=$(cargo pkgid -p ssmail-capi | sed 's/.*[#@]//')
major=${version%%.*}
out=${CARGO_TARGET_DIR:-target}/release

install -d "$DEST/lib/pkgconfig" "$DEST/include"
install -m 0644 "$out/libssmail_capi.a" "$DEST/lib/libssmail.a"
install -m 0755 "$out/libssmail_capi.so" "$DEST/lib/libssmail.so.$version"
ln -sf "libssmail.so.$version" "$DEST/lib/libssmail.so.$major"
ln -sf "libssmail.so.$major" "$DEST/lib/libssmail.so"
install -m 0644 capi/include/ssmail.h "$DEST/include/ssmail.h"
cat >"$DEST/lib/pkgconfig/ssmail.pc" <<PC
prefix=$PREFIX
exec_prefix=\${prefix}
libdir=\${exec_prefix}/lib
includedir=\${prefix}/include

Name: ssmail
Description: XCRYPT stream ciphers, 768-bit Diffie-Hellman and key derivation (libssmail)
Version: $version
Libs: -L\${libdir} -lssmail
Libs.private: $static_libs
Cflags: -I\${includedir}
PC
echo "installed libssmail $version under $DEST (soname libssmail.so.$major)"
