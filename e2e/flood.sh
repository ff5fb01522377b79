#!/usr/bin/env bash
# The inbound gateway against hostile clients (gateway/GATEWAY.md, "Hostile clients"), on
# loopback only: attackers on their own addresses (127.0.0.9 and up), the known peer from
# 127.0.0.1 (smtplib through an outbound gateway, whose fixed key pair is the peer's key).
#
#   a. DH flood: as many EHLO + XCRYPT with fresh random keys as the machine allows (two
#      attacker processes, 300 connections at a time), from 8 addresses, for FLOOD_SECS; meanwhile the known peer sends one message a second.
#      Its sessions must all be encrypted, and >= 90 % of them cache hits.
#   b. 1,100 idle connections from one address; the known peer must still be served.
#   c. a slow drip (one byte a second) is cut within the line deadline (+2 s).
#   d. 10 MB without a line end gets an answer and nothing of it reaches the upstream.
#   e. the gateway's memory: VmRSS / VmHWM after each phase (reported; checked < 256 MB).
#   f. a client over client_new_keys_per_minute gets 421 (a second gateway, 3 s).
#
# FLOOD_DH_BATCH=always runs the DH pool's multi-buffer batch path on any CPU.
# Usage: bash e2e/flood.sh   (needs python3 and a release build of ssmail:
#   cargo build --release --locked -p ssmail; $SSMAIL_BIN overrides the path)
# Costs about 50 s (49 s measured, FLOOD_SECS=20 by default). Exit 0: all checks passed; 1: one failed;
# 2: setup.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
BIN=${SSMAIL_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/ssmail}
FLOOD_SECS=${FLOOD_SECS:-20}
LINE_SECS=3
PY=${PYTHON:-python3}
[ -x "$BIN" ] || { echo "flood.sh: no ssmail at $BIN (cargo build --release -p ssmail)" >&2; exit 2; }

# The idle phase holds 1,100 sockets on the attacker's side; the gateway's own.
ulimit -n 8192 || { echo "flood.sh: cannot raise the fd limit" >&2; exit 2; }

W=$(mktemp -d /tmp/ssmail-flood.XXXXXX)
PIDS=()
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
  [ "${KEEP:-0}" = 1 ] || rm -rf "$W"
}
trap cleanup EXIT

# Free ports from the kernel.
read -r P_SINK P_IN P_OUT < <("$PY" - <<'EOF'
import socket
ss = [socket.socket() for _ in range(3)]
for s in ss:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])
EOF
)

wait_port() {
  local i
  for i in $(seq 1 200); do
    "$PY" -c "import socket,sys; s=socket.socket(); sys.exit(s.connect_ex(('127.0.0.1', $1)))" 2>/dev/null \
      && return 0
    sleep 0.05
  done
  echo "flood.sh: port $1 never listened" >&2
  exit 2
}

FAILED=0
check() { # check NAME OK(0/1) WHAT
  if [ "$2" = 1 ]; then printf 'PASS %-10s %s\n' "$1" "$3"; else printf 'FAIL %-10s %s\n' "$1" "$3"; FAILED=1; fi
}
mem() { # mem PID: "VmRSS=... VmHWM=..." in kB
  awk '/^VmRSS|^VmHWM/ { printf "%s%s kB ", $1, $2 }' "/proc/$1/status"
}
hwm_kb() { awk '/^VmHWM/ { print $2 }' "/proc/$1/status"; }

cat >"$W/inbound.toml" <<EOF
log_format = "json"
[timeouts]
line_secs = $LINE_SECS
[limits]
max_sessions = 1000
client_sessions = 50
exempt = []
dh_batch = "${FLOOD_DH_BATCH:-auto}"
EOF

"$PY" "$HERE/flood.py" sink "$P_SINK" "$W/sink.json" 2>"$W/sink.err" &
PIDS+=($!)
wait_port "$P_SINK"
"$BIN" gateway inbound --listen "127.0.0.1:$P_IN" --upstream "127.0.0.1:$P_SINK" \
  --config "$W/inbound.toml" 2>"$W/inbound.log" &
GW=$!
PIDS+=($GW)
"$BIN" gateway outbound --listen "127.0.0.1:$P_OUT" --upstream "127.0.0.1:$P_IN" 2>"$W/outbound.log" &
PIDS+=($!)
wait_port "$P_IN"
wait_port "$P_OUT"
echo "flood.sh: gateway pid $GW, $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'))"
echo "memory at start: $(mem $GW)"

# Known-peer sessions seen by the inbound gateway since log line N.
known_sessions() {
  tail -n +"$1" "$W/inbound.log" | "$PY" -c '
import json, sys
n = enc = hit = 0
ms = []
for line in sys.stdin:
    try:
        r = json.loads(line)
    except ValueError:
        continue
    if r.get("event") == "session" and r["peer"].startswith("127.0.0.1:"):
        n += 1
        enc += r["xcrypt"] is True
        hit += r["cache"] == "hit"
        ms.append(r["ms"])
ms.sort()
print(n, enc, hit, ms[len(ms) // 2] if ms else "-", ms[-1] if ms else "-")'
}
lines() { wc -l <"$W/inbound.log"; }

# Warm-up: the known peer's first session is the one miss it is allowed.
"$PY" "$HERE/flood.py" known "$P_OUT" 1 >/dev/null
# Its sessions without a flood, to compare with.
L0=$(lines)
"$PY" "$HERE/flood.py" known "$P_OUT" 3 >/dev/null
sleep 0.5
read -r _ _ _ BASE50 BASEMAX < <(known_sessions $((L0 + 1)))
echo "known peer without a flood: session ms median $BASE50, max $BASEMAX"

echo "--- a. DH flood for ${FLOOD_SECS}s, the known peer once a second"
L0=$(lines)
"$PY" "$HERE/flood.py" known "$P_OUT" "$FLOOD_SECS" >"$W/known-a.json" &
KNOWN=$!
# Two attacker processes (one Python process tops out below what the gateway takes).
"$PY" "$HERE/flood.py" dh "$P_IN" "$FLOOD_SECS" 150 \
  127.0.0.9 127.0.0.10 127.0.0.11 127.0.0.12 >"$W/dh1.json" &
DH1=$!
"$PY" "$HERE/flood.py" dh "$P_IN" "$FLOOD_SECS" 150 \
  127.0.0.13 127.0.0.14 127.0.0.15 127.0.0.16 >"$W/dh2.json"
wait "$DH1"
"$PY" - "$W/dh1.json" "$W/dh2.json" >"$W/dh.json" <<'EOF'
import collections, json, sys
total = collections.Counter()
for path in sys.argv[1:]:
    d = json.load(open(path))
    total.update({k: v for k, v in d.items() if k != "secs"})
total["new_keys_per_sec"] = round(total["new_keys_per_sec"], 1)
print(json.dumps(dict(total)))
EOF
wait "$KNOWN"
sleep 1
read -r N ENC HIT MS50 MSMAX < <(known_sessions $((L0 + 1)))
echo "attacker: $(cat "$W/dh.json")"
echo "known peer: $(cat "$W/known-a.json"); gateway: $N sessions, $ENC encrypted, $HIT cache hits," \
  "session ms median $MS50, max $MSMAX"
echo "memory after the flood: $(mem $GW)"
RATE=$("$PY" -c 'import json,sys; print(int(json.load(open(sys.argv[1]))["new_keys_per_sec"]))' "$W/dh.json")
check a.flood "$([ "$RATE" -ge 100 ] && echo 1 || echo 0)" \
  "the flood made the gateway compute new keys ($RATE/s accepted XCRYPT with a fresh key)"
check a.encrypted "$([ "$N" -gt 0 ] && [ "$ENC" = "$N" ] && echo 1 || echo 0)" \
  "every known-peer session encrypted ($ENC/$N)"
check a.hits "$([ "$N" -gt 0 ] && [ $((HIT * 100)) -ge $((N * 90)) ] && echo 1 || echo 0)" \
  "known peer >= 90 % cache hits during the flood ($HIT/$N)"

echo "--- b. 1,100 idle connections from 127.0.0.20, the known peer meanwhile"
L0=$(lines)
"$PY" "$HERE/flood.py" idle "$P_IN" 127.0.0.20 1100 12 >"$W/idle.json" &
IDLE=$!
for _ in $(seq 1 100); do grep -q held "$W/idle.json" 2>/dev/null && break; sleep 0.1; done
"$PY" "$HERE/flood.py" known "$P_OUT" 5 >"$W/known-b.json"
wait "$IDLE"
echo "idle attacker: $(head -n1 "$W/idle.json")"
read -r SENT FAILS < <("$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["sent"], d["failed"])' "$W/known-b.json")
echo "known peer: $SENT sent, $FAILS failed; memory: $(mem $GW)"
check b.served "$([ "$SENT" -ge 4 ] && [ "$FAILS" = 0 ] && echo 1 || echo 0)" \
  "known peer served during 1,100 idle connections ($SENT sent, $FAILS failed)"
OPEN=$("$PY" -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline()).get("220", 0))' "$W/idle.json")
check b.limited "$([ "$OPEN" -le 50 ] && echo 1 || echo 0)" \
  "one address got at most client_sessions = 50 sessions ($OPEN greeted with 220)"

echo "--- c. slow drip from 127.0.0.21 (line deadline ${LINE_SECS}s)"
"$PY" "$HERE/flood.py" drip "$P_IN" 127.0.0.21 >"$W/drip.json"
echo "drip: $(cat "$W/drip.json")"
CUT=$("$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(1 if d["cut_after_secs"] <= float(sys.argv[2]) + 2 and d["heard"].startswith("421") else 0)' "$W/drip.json" "$LINE_SECS")
check c.drip "$CUT" "drip cut with 421 within the line deadline + 2 s"

echo "--- d. 10 MB without a line end from 127.0.0.22"
"$PY" "$HERE/flood.py" longline "$P_IN" 127.0.0.22 10 >"$W/long.json"
sleep 1
echo "long line: $(cat "$W/long.json"); sink: $(cat "$W/sink.json")"
LONG_OK=$("$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); s=json.load(open(sys.argv[2])); print(1 if d["heard"].startswith("421") and s["longest_line"] <= 4096 else 0)' "$W/long.json" "$W/sink.json")
check d.longline "$LONG_OK" "10 MB line answered (421) and nothing over 4 KB reached the upstream"

echo "--- e. memory"
HWM=$(hwm_kb $GW)
echo "gateway: $(mem $GW)"
check e.rss "$([ "$HWM" -lt 262144 ] && echo 1 || echo 0)" "VmHWM $HWM kB < 256 MB"

echo "--- f. new keys per minute: a second inbound gateway with client_new_keys_per_minute = 5"
read -r P_IN2 < <("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'log_format = "json"\n[limits]\nexempt = []\nclient_new_keys_per_minute = 5\n' >"$W/keys.toml"
"$BIN" gateway inbound --listen "127.0.0.1:$P_IN2" --upstream "127.0.0.1:$P_SINK" \
  --config "$W/keys.toml" 2>"$W/inbound2.log" &
PIDS+=($!)
wait_port "$P_IN2"
"$PY" "$HERE/flood.py" dh "$P_IN2" 3 4 127.0.0.23 >"$W/keys.json"
echo "attacker: $(cat "$W/keys.json")"
KEYS_OK=$("$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(1 if d.get("xcrypt_250", 0) == 5 and d.get("xcrypt_421", 0) > 0 else 0)' "$W/keys.json")
check f.newkeys "$KEYS_OK" "5 new keys in the minute, then 421 4.7.0"

echo "--- refusals logged (rate-limited: <= 10 lines per second per reason, then a summary)"
"$PY" - "$W/inbound.log" <<'EOF'
import collections, json, sys
lines, held = collections.Counter(), collections.Counter()
for line in open(sys.argv[1]):
    try:
        r = json.loads(line)
    except ValueError:
        continue
    if r.get("event") == "refused":
        lines[r["reason"]] += 1
    elif r.get("event") == "refused-suppressed":
        held[r["reason"]] += r["count"]
for reason in sorted(set(lines) | set(held)):
    print(f"  {reason}: {lines[reason]} lines, {held[reason]} more suppressed")
EOF

if [ "$FAILED" = 0 ]; then echo "flood.sh: all checks passed"; else echo "flood.sh: FAILED (KEEP=1 keeps $W)"; fi
exit "$FAILED"
