#!/usr/bin/env bash
# End-to-end checks of what an operator of `ssmail gateway` uses (gateway/GATEWAY.md,
# "Operating it"): the Prometheus metrics endpoint scraped during and after a session
# through an outbound/inbound pair in front of an aiosmtpd sink, and parsed with the
# Prometheus project's own Python parser (e2e/opscheck.py); SIGHUP reloading the config
# for new sessions while a bad file is refused; `check-config`; systemd's readiness
# messages (READY=1 only once the port greets, STOPPING=1 at SIGTERM); the systemd unit
# of gateway/dist checked by `systemd-analyze verify`; and the system calls the gateway
# makes (strace) against the unit's SystemCallFilter.
#
# Run as root from anywhere: `bash e2e/ops.sh` (about 20 s). Needs a release build of
# ssmail (cargo build --release --locked -p ssmail): $SSMAIL_BIN, else
# ${CARGO_TARGET_DIR:-target}/release/ssmail. Installs what it lacks (e2e/install.sh,
# prometheus-client from PyPI, systemd for systemd-analyze, strace). Each check prints
# PASS or FAIL; the exit status is 1 when any failed. Ports: 127.0.0.1:E2E_OPS_PORT_BASE+1 .. +9
# (default base 25850).
# Functions run through `check` look unreachable to shellcheck.
# shellcheck disable=SC2317
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
# shellcheck source=e2e/lib.sh
. "$HERE/lib.sh"

T0=$SECONDS
e2e_root_and_tools e2e/ops.sh "it installs what it lacks"
if ! "$PY" -c 'import prometheus_client' 2>/dev/null; then
  "$PY" -m pip install -q prometheus-client 2>/dev/null \
    || "$PY" -m pip install -q --break-system-packages prometheus-client
fi
if ! command -v systemd-analyze >/dev/null || ! command -v strace >/dev/null; then
  apt-get update -qq || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends systemd strace >/dev/null
fi

e2e_ssmail_bin "gateway check-config" gateway check-config
say "gateway: $BIN"

e2e_workdir ssmail-e2e-ops

B=${E2E_OPS_PORT_BASE:-25850}
P_SINK=$((B + 1))     # aiosmtpd byte-exact sink
P_IN=$((B + 2))       # inbound gateway -> sink
P_OUT=$((B + 3))      # outbound gateway -> inbound
P_INM=$((B + 4))      # inbound's metrics
P_OUTM=$((B + 5))     # outbound's metrics
P_NOTIFY=$((B + 6))   # the gateway started under a NOTIFY_SOCKET
P_TRACE=$((B + 7))    # the gateway run under strace
P_TRACEM=$((B + 8))   # its metrics
e2e_ports_free E2E_OPS_PORT_BASE "$P_SINK" "$P_IN" "$P_OUT" "$P_INM" "$P_OUTM" "$P_NOTIFY" \
  "$P_TRACE" "$P_TRACEM"

section "setup"
"$PY" "$HERE/mkmsg.py" "$W/msg.eml" 20000 "e2e-ops-$$" || exit 1
cat >"$W/in.toml" <<EOF
metrics_listen = "127.0.0.1:$P_INM"
[timeouts]
idle_secs = 30
[limits]
grace_secs = 2
EOF
start_bg sink "$W/sink.log" env PYTHONPATH="$HERE" "$PY" -m aiosmtpd -n -l "127.0.0.1:$P_SINK" \
  -c rawsink.RawSink "$W/sink"
SINK_PID=$LAST_PID
start_bg in "$W/gw-in.log" "$BIN" gateway inbound --listen "127.0.0.1:$P_IN" \
  --upstream "127.0.0.1:$P_SINK" --config "$W/in.toml" --log-format json
GW_IN=$LAST_PID
start_bg out "$W/gw-out.log" "$BIN" gateway outbound --listen "127.0.0.1:$P_OUT" \
  --upstream "127.0.0.1:$P_IN" --metrics-listen "127.0.0.1:$P_OUTM" --log-format json
GW_OUT=$LAST_PID
setup_ok() {
  local rc=0
  wait_listen "$P_SINK" 20 "$SINK_PID" || rc=1
  wait_listen "$P_IN" 10 "$GW_IN" || rc=1
  wait_listen "$P_INM" 10 "$GW_IN" || rc=1
  wait_listen "$P_OUT" 10 "$GW_OUT" || rc=1
  wait_listen "$P_OUTM" 10 "$GW_OUT" || rc=1
  return "$rc"
}
if ! check setup "sink, an inbound and an outbound gateway with their metrics listen" setup_ok; then
  for f in "$W"/gw-*.log "$W"/sink.log; do say "== $f"; tail -n 5 "$f"; done
  exit 1
fi

section "1. metrics"
check 1.metrics "a session through the pair moves the counters (scraped during and after, parsed)" \
  "$PY" "$HERE/opscheck.py" metrics "127.0.0.1:$P_INM" "127.0.0.1:$P_OUTM" "$P_OUT" "$W/msg.eml"
not_found() {
  local code
  code=$("$PY" -c "import urllib.request, urllib.error
try: print(urllib.request.urlopen('http://127.0.0.1:$P_INM/', timeout=5).status)
except urllib.error.HTTPError as e: print(e.code)")
  say "GET / -> $code"
  [ "$code" = 404 ]
}
check 1.notfound "the metrics listener answers 404 to any other path" not_found

section "2. reload"
versions_are() { # versions_are PORT WANT: the EHLO reply's XCRYPT line is exactly WANT
  local got
  got=$("$PY" "$HERE/opscheck.py" ehlo "$1" | grep '^XCRYPT')
  say "EHLO: $got"
  [ "$got" = "$2" ]
}
notice_count() { grep -c "\"message\":\"$1" "$W/gw-in.log"; }
reload_to() { # reload_to TOML WHAT: rewrite the config, SIGHUP, wait for the notice WHAT
  local before
  before=$(notice_count "$2")
  printf '%s\n' "$1" >"$W/in.toml"
  kill -HUP "$GW_IN"
  wait_until 10 eval '[ "$(notice_count "'"$2"'")" -gt '"$before"' ]' \
    || { say "no new \"$2\" notice"; return 1; }
  grep "\"message\":\"$2" "$W/gw-in.log" | tail -n 1
}
check 2.before "before: the inbound gateway offers both versions" \
  versions_are "$P_IN" "XCRYPT t32_1.0 arrsyfor_1.0"
check 2.reload "SIGHUP with versions = [arrsyfor_1.0]: logged as reloaded" \
  reload_to "metrics_listen = \"127.0.0.1:$P_INM\"
versions = [\"arrsyfor_1.0\"]" "config reloaded"
check 2.after "after: a new session is offered arrsyfor_1.0 only" \
  versions_are "$P_IN" "XCRYPT arrsyfor_1.0"
check 2.bad "SIGHUP with a broken file: refused and logged" \
  reload_to "versions = [\"arrsyfor_1.0\"" "config reload refused"
check 2.kept "the config before the broken file stays" versions_are "$P_IN" "XCRYPT arrsyfor_1.0"
check 2.mail "mail still goes through the pair, now encrypted with arrsyfor_1.0" \
  "$PY" "$HERE/opscheck.py" metrics "127.0.0.1:$P_INM" "127.0.0.1:$P_OUTM" "$P_OUT" "$W/msg.eml" \
  arrsyfor_1.0
reloads() {
  "$PY" - "127.0.0.1:$P_INM" <<'EOF'
import sys, urllib.request
from prometheus_client.parser import text_string_to_metric_families
text = urllib.request.urlopen(f"http://{sys.argv[1]}/metrics", timeout=5).read().decode()
got = {s.labels["result"]: s.value for f in text_string_to_metric_families(text)
       for s in f.samples if s.name == "ssmail_gateway_config_reloads_total"}
print(got)
sys.exit(0 if got == {"ok": 1.0, "refused": 1.0} else 1)
EOF
}
check 2.metrics "config_reloads_total: ok 1, refused 1" reloads

section "3. check-config and systemd"
check_config() { # check_config WANT_RC FILE [ARGS...]
  local want=$1 rc=0
  shift
  "$BIN" gateway check-config "$@" || rc=$?
  [ "$rc" = "$want" ] || { say "exit $rc, wanted $want"; return 1; }
}
printf 'versions = ["t32_1.0"]\n[limits]\nmax_sessions = -3\n' >"$W/bad.toml"
check 3.check.sample "check-config passes gateway/dist/gateway.toml (inbound)" \
  check_config 0 --mode inbound "$ROOT/gateway/dist/gateway.toml"
check 3.check.bad "check-config refuses a bad file, exit 2, naming line 3" \
  eval 'check_config 2 "$W/bad.toml" 2>&1 | tee "$W/bad.out"; grep -q "line 3" "$W/bad.out"'
check 3.notify "READY=1 only once the port greets; SIGTERM: STOPPING=1, exit 0" \
  "$PY" "$HERE/opscheck.py" notify "$P_NOTIFY" "$BIN" gateway inbound \
  --listen "127.0.0.1:$P_NOTIFY" --upstream "127.0.0.1:$P_SINK"
verify_unit() {
  # systemd-analyze verify wants ExecStart's binary to exist: the built one stands in.
  mkdir -p "$W/unit"
  sed "s#/usr/local/bin/ssmail#$BIN#g" "$ROOT/gateway/dist/ssmail-gateway.service" \
    >"$W/unit/ssmail-gateway.service"
  local out
  out=$(systemd-analyze verify "$W/unit/ssmail-gateway.service" 2>&1) || { say "$out"; return 1; }
  # It exits 0 on some warnings: none are allowed.
  [ -z "$out" ] || { say "$out"; return 1; }
  systemd-analyze security --offline=true "$W/unit/ssmail-gateway.service" 2>/dev/null | tail -n 1
}
check 3.unit "systemd-analyze verify: gateway/dist/ssmail-gateway.service, no warnings" verify_unit
# expand @GROUP...: the system calls of systemd's groups, nested groups included.
expand() {
  local g x
  for g in "$@"; do
    systemd-analyze syscall-filter "$g" | sed -n '2,$p' | grep -vE '^[[:space:]]*(#|$)' | tr -d ' ' |
      while read -r x; do case $x in @*) expand "$x" ;; *) echo "$x" ;; esac; done
  done
}
syscalls() {
  local pid rc=0
  printf 'metrics_listen = "127.0.0.1:%s"\ncache_file = "%s/keys"\n' "$P_TRACEM" "$W" >"$W/trace.toml"
  start_bg trace "$W/gw-trace.log" env NOTIFY_SOCKET="$W/no-notify-socket" strace -f -qq \
    -o "$W/strace.out" "$BIN" gateway inbound --listen "127.0.0.1:$P_TRACE" \
    --upstream "127.0.0.1:$P_SINK" --config "$W/trace.toml"
  pid=$LAST_PID
  wait_listen "$P_TRACEM" 20 "$pid" || return 1
  "$PY" "$HERE/opscheck.py" ehlo "$P_TRACE" >/dev/null || rc=1
  "$PY" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$P_TRACEM/metrics', timeout=5).read()" || rc=1
  # strace's child is the gateway: signal it, not strace.
  kill -HUP "$(pgrep -P "$pid")"
  wait_until 10 grep -q "config reloaded" "$W/gw-trace.log" || rc=1
  kill -TERM "$(pgrep -P "$pid")"
  stop_pid "$pid" TERM 15
  awk '{ for (i = 2; i <= NF; i++) if ($i ~ /^[a-z_0-9]+\(/) { sub(/\(.*/, "", $i); print $i; break } }' \
    "$W/strace.out" | sort -u >"$W/syscalls.used"
  expand @system-service | sort -u >"$W/syscalls.allowed"
  expand @privileged @resources | sort -u >"$W/syscalls.denied"
  say "system calls used: $(wc -l <"$W/syscalls.used")"
  if [ -n "$(comm -23 "$W/syscalls.used" "$W/syscalls.allowed")" ] ||
    [ -n "$(comm -12 "$W/syscalls.used" "$W/syscalls.denied")" ]; then
    say "outside SystemCallFilter=@system-service ~@privileged @resources:"
    comm -23 "$W/syscalls.used" "$W/syscalls.allowed"
    comm -12 "$W/syscalls.used" "$W/syscalls.denied"
    return 1
  fi
  [ "$(wc -l <"$W/syscalls.used")" -gt 20 ] || { say "too few system calls traced"; return 1; }
  return "$rc"
}
check 3.syscalls "start, session, scrape, SIGHUP, SIGTERM under strace: only the unit's allowed system calls" \
  syscalls

section "shutdown"
check 4.sigterm "SIGTERM: both gateways exit 0 after the reloads" stop_gateways "$GW_IN" "$GW_OUT"
panic_check 4.panic

e2e_summary
