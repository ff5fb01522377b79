# shellcheck shell=bash
# Helpers of the patched-Postfix test scripts (sourced by mta/postfix/e2e.sh and
# mta/postfix/rotation.sh): one way to count a check, to wait, and to set up a run.
# The caller sets HERE (this folder), REPO (the repo root) and W (its work dir).

FAILS=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; FAILS=$((FAILS + 1)); }
check() { # check NAME CMD...: ok NAME when CMD succeeds (its output dropped), else bad
  local name=$1
  shift
  if "$@" >/dev/null 2>&1; then ok "$name"; else bad "$name"; fi
}
wait_until() { # wait_until SECONDS CMD...: poll CMD every 0.1 s; 1 on timeout
  local t=$(($1 * 10))
  shift
  while [ $t -gt 0 ]; do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
    t=$((t - 1))
  done
  return 1
}

# pf_preflight SCRIPT WHY: exit 2 unless root and the patched Postfix is built.
pf_preflight() {
  [ "$(id -u)" = 0 ] || { echo "$1 must run as root ($2)" >&2; exit 2; }
  [ -x "$REPO/target/postfix/build/postfix-3.7.11/libexec/smtpd" ] ||
    { echo "build first: mta/postfix/build.sh" >&2; exit 2; }
}

# pf_fresh_workdir NAME...: stop the instances NAME... a previous run may have left
# under $W, then empty $W.
pf_fresh_workdir() {
  local i
  for i in "$@"; do "$HERE/instance.sh" stop "$W/$i" 2>/dev/null; done
  rm -rf "$W"
  mkdir -p "$W"
}
