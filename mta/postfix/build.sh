#!/usr/bin/env bash
# Builds Debian bookworm's Postfix (3.7.11) with ssmail's XCRYPT patch, linked statically
# against libssmail. Everything lands under target/postfix/:
#   src/        apt-get source postfix (the .dsc, tarballs, and the unpacked tree)
#   libssmail/  capi/install.sh's prefix (lib/libssmail.a, include/ssmail.h, ssmail.pc)
#   build/postfix-3.7.11/   the patched tree, built in place (bin/, libexec/, ...)
# Usage: mta/postfix/build.sh      (as root on Debian bookworm; idempotent: a second run
#        re-applies the patch only if it changed and rebuilds only what changed)
# No Postfix source is kept in the repository: only mta/postfix/xcrypt.patch.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$(pwd)
out=$repo/target/postfix
patch_file=$repo/mta/postfix/xcrypt.patch
version=3.7.11
mkdir -p "$out/src" "$out/build"

# 1. Build dependencies: not `apt-get build-dep postfix` (it pulls in LDAP, MySQL,
#    PostgreSQL, SQLite, CDB, SASL, ICU and the documentation toolchain, none of which
#    this build uses). The minimum:
#      libdb-dev   Berkeley DB: Postfix's default map type (hash:) for aliases/postmap
#      libssl-dev  USE_TLS: STARTTLS is compiled in, to test "no XCRYPT after STARTTLS"
#                  and to compare against TLS later
#      libnsl-dev  makedefs links -lnsl on Linux when it finds it (NIS maps)
#      m4          postconf's build extracts its parameter tables with m4
#      gcc make dpkg-dev pkg-config: compiler, make, dpkg-source, the .pc lookup
need=()
for p in libdb-dev libssl-dev libnsl-dev m4 gcc make dpkg-dev pkg-config; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}"
fi

# 3. The source, as Debian ships it (Debian's patches applied by dpkg-source), downloaded
#    once. apt-get source needs deb-src entries, which a fresh bookworm lacks (its
#    debian.sources has "Types: deb" only): then they go into a file of our own for the
#    download and are taken out again afterwards (with a second apt-get update, a few
#    seconds), leaving the machine's apt configuration as it was.
have_src() {
  grep -rqsE '^(deb-src|Types:.*deb-src)' /etc/apt/sources.list /etc/apt/sources.list.d/
}
if ! ls "$out/src"/postfix_"$version"-*.dsc >/dev/null 2>&1; then
  added_src=
  if ! have_src; then
    added_src=/etc/apt/sources.list.d/ssmail-deb-src.sources
    cat >"$added_src" <<'EOF'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    trap 'rm -f "$added_src"' EXIT
    apt-get update -qq
  fi
  (cd "$out/src" && apt-get source --download-only -q postfix)
  if [ -n "$added_src" ]; then
    rm -f "$added_src"
    trap - EXIT
    apt-get update -qq
  fi
fi
# The patch is written against this version; a newer bookworm point release needs a look.
dsc=$(ls "$out/src"/postfix_"$version"-*.dsc 2>/dev/null | head -1)
[ -n "$dsc" ] || { echo "build.sh: no postfix $version source in $out/src (apt-cache policy postfix)" >&2; exit 1; }
tree=$out/build/postfix-$version
stamp=$tree/.xcrypt.patch.applied

# 4. libssmail, static link: the built daemons then run from the build tree without
#    LD_LIBRARY_PATH.
"$repo/capi/install.sh" "$out/libssmail"
export PKG_CONFIG_PATH=$out/libssmail/lib/pkgconfig
libdir=$(pkg-config --variable=libdir ssmail)
ssmail_cflags=$(pkg-config --cflags ssmail)
ssmail_static="$libdir/libssmail.a $(pkg-config --static --libs-only-l ssmail | sed 's/-lssmail//')"

# 5. Unpack once, then keep the tree patched with the current patch.
if [ ! -d "$tree" ]; then
  dpkg-source -x "$dsc" "$tree"
fi
if [ -f "$stamp" ] && ! cmp -s "$stamp" "$patch_file"; then
  (cd "$tree" && patch -R -p1 -s <"$stamp")
  rm -f "$stamp"
fi
if [ ! -f "$stamp" ]; then
  (cd "$tree" && patch -p1 -s --no-backup-if-mismatch <"$patch_file")
  cp "$patch_file" "$stamp"
  rm -f "$tree/.made"
fi

# 6. Build. Debian's patches set the install paths (/etc/postfix, /usr/lib/postfix/sbin);
#    the test instance overrides them with -c and its own main.cf, so nothing is installed.
cd "$tree"
if [ ! -f .made ]; then
  make -s makefiles \
    CCARGS="-DUSE_TLS $ssmail_cflags" \
    AUXLIBS="-lssl -lcrypto $ssmail_static" \
    OPT="-O2" DEBUG="-g"
  touch .made
fi
# Postfix's makefiles do not know libssmail.a: a daemon older than it is linked again.
for d in smtpd/smtpd smtp/smtp; do
  [ ! "$libdir/libssmail.a" -nt "src/$d" ] || rm -f "src/$d"
done
make -s
# lmtp is smtp under another name (the process name picks the protocol); the install
# makes it a hard link (conf/postfix-files), the build tree has none: instance.sh runs it.
ln -f libexec/smtp libexec/lmtp
# Our own C (not Postfix's) is held to the project's warning flags; -Wno-comment because
# Postfix's manual-page comment blocks nest "/*" on purpose.
for f in smtpd/smtpd_xcrypt.c smtp/smtp_xcrypt.c; do
  (cd "src/${f%/*}" && gcc -fsyntax-only -Wall -Wextra -Werror -Wno-comment -I. -I../../include \
    -D"$(sed -n 's/^SYSTYPE\t= //p' Makefile)" -DUSE_TLS $ssmail_cflags "${f#*/}")
done
echo "built: $tree/libexec/smtpd ($(./bin/postconf -d mail_version))"
./bin/postconf -d | grep '^smtpd_xcrypt_'
