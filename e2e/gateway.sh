#!/usr/bin/env bash
# End-to-end tests of `ssmail gateway inbound|outbound` (gateway/GATEWAY.md) against real
# SMTP peers: swaks, Python smtplib and raw sockets as clients; aiosmtpd (byte-exact sink,
# e2e/rawsink.py) and throwaway Postfix instances as servers and as the sending MTA;
# tcpdump on lo to show the gateway-to-gateway leg carries no plaintext.
#
# Run as root from anywhere: `bash e2e/gateway.sh`. Needs a release build of ssmail
# (cargo build --release --locked -p ssmail): $SSMAIL_BIN, else
# ${CARGO_TARGET_DIR:-target}/release/ssmail. Installs missing tools (e2e/install.sh).
# Each check prints PASS or FAIL; the exit status is 1 when any failed. Temp files live
# in one work dir, removed on success and printed otherwise (E2E_KEEP=1 keeps it).
# Ports: 127.0.0.1:E2E_PORT_BASE+1 .. +49 (default base 25700).
# SSMAIL_E2E_STANDIN=1 runs a plain TCP forwarder (e2e/standin.py) instead of the gateway:
# the XCRYPT checks must then FAIL (the suite's own negative control).
# Functions run through `check` look unreachable to shellcheck; eval strings are quoted on purpose.
# shellcheck disable=SC2317,SC2016
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
# shellcheck source=e2e/lib.sh
. "$HERE/lib.sh"

T0=$SECONDS
e2e_root_and_tools e2e/gateway.sh "tcpdump, Postfix"

if [ "${SSMAIL_E2E_STANDIN:-0}" = 1 ]; then
  GW=("$PY" "$HERE/standin.py" gateway)
  say "gateway: STAND-IN (plain TCP forwarder): the XCRYPT checks are expected to FAIL"
else
  e2e_ssmail_bin "a gateway subcommand" gateway
  GW=("$BIN" gateway)
  say "gateway: $BIN"
fi

e2e_workdir ssmail-e2e
chmod 755 "$W"   # Postfix daemons (user postfix, nobody) work below it

B=${E2E_PORT_BASE:-25700}
P_SINK=$((B + 1))      # aiosmtpd byte-exact sink A (PIPELINING, decoy STARTTLS/PIPECONNECT/XCRYPT)
P_IN=$((B + 2))        # inbound gateway -> sink A
P_OUT=$((B + 3))       # outbound gateway -> inbound gateway
P_PFSINK=$((B + 10))   # Postfix receiving into a Maildir (offers STARTTLS)
P_IN2=$((B + 11))      # inbound gateway -> Postfix sink
P_OUT2=$((B + 12))     # outbound gateway -> inbound gateway 2
P_PFRELAY=$((B + 20))  # Postfix sending MTA, relayhost = outbound gateway
P_PLAIN=$((B + 30))    # aiosmtpd sink B: plain, no XCRYPT
P_OBF=$((B + 31))      # outbound gateway -> sink B (fallback)
P_OBREQ=$((B + 32))    # same gateway, a config [[route]] with require_xcrypt = true
P_OBREQF=$((B + 33))   # another outbound gateway, --require-xcrypt flag -> sink B
P_IND=$((B + 40))      # inbound gateway whose upstream is down
P_DEAD=$((B + 49))     # nothing listens here
SINK_A=$W/sink-a
SINK_B=$W/sink-b
PF_SINK=$W/pf-sink
PF_RELAY=$W/pf-relay
HELO=client.e2e.test
RCPT=bob@b.test

e2e_ports_free E2E_PORT_BASE "$P_SINK" "$P_IN" "$P_OUT" "$P_PFSINK" "$P_IN2" "$P_OUT2" \
  "$P_PFRELAY" "$P_PLAIN" "$P_OBF" "$P_OBREQ" "$P_OBREQF" "$P_IND" "$P_DEAD"

# ---------------------------------------------------------------- helpers for the checks

sess_count() { "$PY" "$HERE/sessions.py" "$1" --count; }

# sink_env DIR FROM: the .env of the message with that envelope sender (empty if none).
sink_env() { grep -lxF "mail_from: $2" "$1"/*.env 2>/dev/null | head -n 1; }
sink_has() { [ -n "$(sink_env "$1" "$2")" ]; }

# send CLIENT PORT FROM FILE: deliver FILE (a CRLF message) to 127.0.0.1:PORT.
# swaks gets the file without its last CRLF: it ends the data with CRLF "." CRLF itself.
send() {
  local client=$1 port=$2 from=$3 file=$4 rc
  case $client in
    swaks)
      [ -f "$file.swaks" ] || head -c -2 "$file" >"$file.swaks"
      timeout 120 swaks --server "127.0.0.1:$port" --helo "$HELO" --from "$from" --to "$RCPT" \
        --data @"$file.swaks" --suppress-data >"$W/swaks-$from.log" 2>&1
      rc=$?
      if [ "$rc" != 0 ]; then
        say "swaks exit $rc:"
        tail -n 8 "$W/swaks-$from.log"
      fi
      return "$rc"
      ;;
    smtplib)
      timeout 120 "$PY" "$HERE/pyclient.py" smtplib "$port" "$from" "$RCPT" "$file"
      ;;
  esac
}

# delivered_exact DIR FROM FILE [SECONDS]: the message arrives in sink DIR, bytes == FILE.
delivered_exact() {
  local dir=$1 from=$2 file=$3 secs=${4:-30} env
  if ! wait_until "$secs" sink_has "$dir" "$from"; then
    say "no message from $from in $dir after ${secs}s"
    return 1
  fi
  env=$(sink_env "$dir" "$from")
  "$PY" "$HERE/msgcmp.py" exact "${env%.env}.eml" "$file"
}

# send_and_compare CLIENT PORT DIR FROM FILE
send_and_compare() {
  send "$1" "$2" "$4" "$5" || return 1
  delivered_exact "$3" "$4" "$5" 60
}

# sessions LOG MARK EXPECT...: the next session line after MARK in LOG meets every EXPECT.
sessions() {
  local log=$1 mark=$2 args=() e
  shift 2
  for e in "$@"; do args+=(--expect "$e"); done
  "$PY" "$HERE/sessions.py" "$log" --after "$mark" --want 1 --timeout 15 "${args[@]}"
}

# both_encrypted MARK_OUT MARK_IN [OUT_LOG IN_LOG]: the outbound and the inbound gateway
# each logged the session with xcrypt=true, a suite, result ok. (Postfix sends QUIT
# pipelined behind the final "." and closes without reading the 221; that must still be
# logged ok: e2e/repro/quit-reset.sh was the reproduction.)
both_encrypted() {
  local out_log=${3:-$W/gw-out.log} in_log=${4:-$W/gw-in.log} rc=0 ok=(result=ok)
  say "outbound:"
  sessions "$out_log" "$1" xcrypt=true suite!=null "${ok[@]}" || rc=1
  say "inbound:"
  sessions "$in_log" "$2" xcrypt=true suite!=null "${ok[@]}" || rc=1
  return "$rc"
}

# ehlo_keywords PORT: the EHLO reply's lines (after "250-"/"250 "), from swaks.
ehlo_keywords() {
  timeout 30 swaks --server "127.0.0.1:$1" --helo "$HELO" --quit-after EHLO >"$W/ehlo-$1.log" 2>&1 || true
  sed -n 's/^<-  250[- ]//p' "$W/ehlo-$1.log"
}

# ehlo_has PORT KEYWORD-REGEX... / ehlo_lacks PORT KEYWORD-REGEX...
ehlo_expect() {
  local port=$1 rc=0 kws k
  shift
  kws=$(ehlo_keywords "$port")
  say "EHLO reply on $port: $(printf '%s' "$kws" | tr '\n' '|')"
  [ -n "$kws" ] || { say "no EHLO reply"; return 1; }
  for k in "$@"; do
    case $k in
      !*) if grep -qiE "^${k#!}( |$)" <<<"$kws"; then say "offers ${k#!}: it must not"; rc=1; fi ;;
      *) if ! grep -qiE "^$k( |$)" <<<"$kws"; then say "does not offer $k"; rc=1; fi ;;
    esac
  done
  return "$rc"
}

# The inbound gateway's XCRYPT line: exactly one, naming a known version and nothing else.
xcrypt_line_ok() {
  local kws x
  kws=$(ehlo_keywords "$1")
  x=$(grep -iE '^XCRYPT( |$)' <<<"$kws")
  say "XCRYPT lines: $(printf '%s' "$x" | tr '\n' '|')"
  [ "$(grep -c . <<<"$x")" = 1 ] || { say "expected exactly one XCRYPT line"; return 1; }
  grep -qE ' (t32_1\.0|arrsyfor_1\.0)( |$)' <<<"$x" || { say "no known version"; return 1; }
  if grep -q 'bogus_9.9' <<<"$x"; then say "the upstream's own XCRYPT leaked through"; return 1; fi
}

# ---------------------------------------------------------------- setup

section "setup"
MSG=$W/msg
mkdir -p "$MSG"
for spec in 1k:1024 100k:102400 10m:10485760; do
  "$PY" "$HERE/mkmsg.py" "$MSG/${spec%%:*}.eml" "${spec#*:}" "e2e-${spec%%:*}-$$" || exit 1
done

cat >"$W/gw.toml" <<EOF
[timeouts]
connect_secs = 5
idle_secs = 120
[limits]
grace_secs = 3
EOF
cat >"$W/gw-ob.toml" <<EOF
[timeouts]
connect_secs = 5
idle_secs = 120
[limits]
grace_secs = 3
[[route]]
listen = "127.0.0.1:$P_OBREQ"
upstream = "127.0.0.1:$P_PLAIN"
require_xcrypt = true
EOF

# The Postfix instances take ~2 s each to build (postfix check): build both at once.
postfix_instance "$PF_SINK" "$P_PFSINK" >"$W/pf-sink-build.log" 2>&1 &
PF_BUILD1=$!
postfix_instance "$PF_RELAY" "$P_PFRELAY" "127.0.0.1:$P_OUT" >"$W/pf-relay-build.log" 2>&1 &
PF_BUILD2=$!

start_bg sink-a "$W/sink-a.log" env PYTHONPATH="$HERE" "$PY" -m aiosmtpd -n -l "127.0.0.1:$P_SINK" \
  -c rawsink.RawSink "$SINK_A" PIPELINING STARTTLS PIPECONNECT "XCRYPT bogus_9.9"
SINK_A_PID=$LAST_PID
start_bg sink-b "$W/sink-b.log" env PYTHONPATH="$HERE" "$PY" -m aiosmtpd -n -l "127.0.0.1:$P_PLAIN" \
  -c rawsink.RawSink "$SINK_B"
SINK_B_PID=$LAST_PID

gw() { # gw NAME MODE LISTEN_PORT UPSTREAM_PORT [ARGS...]
  local name=$1 mode=$2 lp=$3 up=$4
  shift 4
  start_bg "$name" "$W/gw-$name.log" "${GW[@]}" "$mode" --listen "127.0.0.1:$lp" \
    --upstream "127.0.0.1:$up" --log-format json "$@"
}
gw in inbound "$P_IN" "$P_SINK" --config "$W/gw.toml"; GW_IN=$LAST_PID
gw out outbound "$P_OUT" "$P_IN" --config "$W/gw.toml"; GW_OUT=$LAST_PID
gw in2 inbound "$P_IN2" "$P_PFSINK" --config "$W/gw.toml"; GW_IN2=$LAST_PID
gw out2 outbound "$P_OUT2" "$P_IN2" --config "$W/gw.toml"; GW_OUT2=$LAST_PID
gw ob outbound "$P_OBF" "$P_PLAIN" --config "$W/gw-ob.toml"; GW_OB=$LAST_PID
gw obreq outbound "$P_OBREQF" "$P_PLAIN" --config "$W/gw.toml" --require-xcrypt; GW_OBREQ=$LAST_PID
# This one logs in the text format (the default), to check that format too.
start_bg ind "$W/gw-ind.log" "${GW[@]}" inbound --listen "127.0.0.1:$P_IND" \
  --upstream "127.0.0.1:$P_DEAD" --config "$W/gw.toml"
GW_IND=$LAST_PID
GATEWAYS=("$GW_IN" "$GW_OUT" "$GW_IN2" "$GW_OUT2" "$GW_OB" "$GW_OBREQ" "$GW_IND")

setup_ok() {
  local rc=0
  wait_listen "$P_SINK" 20 "$SINK_A_PID" || rc=1
  wait_listen "$P_PLAIN" 20 "$SINK_B_PID" || rc=1
  wait_listen "$P_IN" 10 "$GW_IN" || rc=1
  wait_listen "$P_OUT" 10 "$GW_OUT" || rc=1
  wait_listen "$P_IN2" 10 "$GW_IN2" || rc=1
  wait_listen "$P_OUT2" 10 "$GW_OUT2" || rc=1
  wait_listen "$P_OBF" 10 "$GW_OB" || rc=1
  wait_listen "$P_OBREQ" 10 "$GW_OB" || rc=1
  wait_listen "$P_OBREQF" 10 "$GW_OBREQ" || rc=1
  wait_listen "$P_IND" 10 "$GW_IND" || rc=1
  if ! wait "$PF_BUILD1"; then say "Postfix sink build failed:"; tail "$W/pf-sink-build.log"; rc=1; fi
  if ! wait "$PF_BUILD2"; then say "Postfix relay build failed:"; tail "$W/pf-relay-build.log"; rc=1; fi
  postfix_start "$PF_SINK" "$P_PFSINK" || rc=1
  postfix_start "$PF_RELAY" "$P_PFRELAY" || rc=1
  grep -h 'listening' "$W"/gw-*.log
  return "$rc"
}
if ! check setup "sinks, 7 gateways and 2 Postfix instances listen" setup_ok; then
  for f in "$W"/gw-*.log "$W"/sink-*.log; do say "== $f"; tail -n 5 "$f"; done
  exit 1
fi

# ---------------------------------------------------------------- 1. byte-exact through the pair

section "1. byte-exact delivery: client -> outbound -> inbound -> aiosmtpd sink"
for size in 1k 100k 10m; do
  for client in swaks smtplib; do
    from="t1-$size-$client@a.test"
    m_out=$(sess_count "$W/gw-out.log")
    m_in=$(sess_count "$W/gw-in.log")
    check "1.$size.$client" "$(wc -c <"$MSG/$size.eml") bytes via $client arrive byte-exact" \
      send_and_compare "$client" "$P_OUT" "$SINK_A" "$from" "$MSG/$size.eml"
    check "1.$size.$client.log" "both gateways logged xcrypt=true with a suite" \
      both_encrypted "$m_out" "$m_in"
  done
done
# The outbound gateway has met the inbound's key before: the last session is a cache hit.
check "1.cache" "a repeated peer key is a cache hit on both sides" \
  eval 'sessions "$W/gw-out.log" $(( $(sess_count "$W/gw-out.log") - 1 )) cache=hit &&
        sessions "$W/gw-in.log" $(( $(sess_count "$W/gw-in.log") - 1 )) cache=hit'

# ---------------------------------------------------------------- 2. Postfix as the receiver

section "2. Postfix behind the inbound gateway"
check 2.ehlo.control "Postfix itself offers STARTTLS, PIPELINING, CHUNKING" \
  ehlo_expect "$P_PFSINK" STARTTLS PIPELINING CHUNKING
check 2.ehlo "inbound gateway before Postfix: XCRYPT offered, STARTTLS/PIPECONNECT not" \
  ehlo_expect "$P_IN2" XCRYPT '!STARTTLS' '!PIPECONNECT' PIPELINING
check 2.ehlo.decoys.control "sink A itself offers STARTTLS, PIPECONNECT, XCRYPT bogus_9.9" \
  ehlo_expect "$P_SINK" STARTTLS PIPECONNECT XCRYPT
check 2.ehlo.decoys "inbound gateway takes out sink A's STARTTLS, PIPECONNECT, XCRYPT" \
  ehlo_expect "$P_IN" XCRYPT '!STARTTLS' '!PIPECONNECT' PIPELINING
check 2.ehlo.xcrypt "one XCRYPT line, the gateway's own versions" xcrypt_line_ok "$P_IN"

pf_delivered() { # pf_delivered ID FILE: a Maildir file with X-E2E-Id ID; body == FILE's body
  local id=$1 file=$2 f
  if ! wait_until 30 eval 'grep -rlqF "X-E2E-Id: $id" "$PF_SINK/mail/sink/new"'; then
    say "nothing with X-E2E-Id $id in $PF_SINK/mail/sink/new after 30s"
    tail -n 5 "$PF_SINK/maillog"
    return 1
  fi
  f=$(grep -rlF "X-E2E-Id: $id" "$PF_SINK/mail/sink/new" | head -n 1)
  "$PY" "$HERE/msgcmp.py" body "$f" "$file"
}
"$PY" "$HERE/mkmsg.py" "$MSG/pf.eml" 102400 "e2e-pf-$$"
m_out=$(sess_count "$W/gw-out2.log")
m_in=$(sess_count "$W/gw-in2.log")
check 2.deliver "100 KB via swaks through the pair reaches Postfix's Maildir, body exact" \
  eval 'send swaks "$P_OUT2" t2-pf@a.test "$MSG/pf.eml" && pf_delivered "e2e-pf-$$" "$MSG/pf.eml"'
check 2.log "both gateways logged xcrypt=true with a suite" \
  both_encrypted "$m_out" "$m_in" "$W/gw-out2.log" "$W/gw-in2.log"

"$PY" "$HERE/mkmsg.py" "$MSG/bdat.eml" 65536 "e2e-bdat-$$"
m_out=$(sess_count "$W/gw-out2.log")
m_in=$(sess_count "$W/gw-in2.log")
check 2.bdat "64 KB as 3 BDAT chunks (raw socket) through the pair to Postfix, body exact" \
  eval 'timeout 60 "$PY" "$HERE/pyclient.py" bdat "$P_OUT2" t2-bdat@a.test "$RCPT" "$MSG/bdat.eml" &&
        pf_delivered "e2e-bdat-$$" "$MSG/bdat.eml"'
check 2.bdat.log "both gateways logged xcrypt=true with a suite" \
  both_encrypted "$m_out" "$m_in" "$W/gw-out2.log" "$W/gw-in2.log"

# ---------------------------------------------------------------- capture for 3 and 4

section "capture on lo: outbound<-client ($P_OUT), gateway<->gateway ($P_IN), inbound->sink ($P_SINK)"
CAN=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
C_FROM="cfrom$CAN"   # in MAIL FROM
C_HDR="chdr$CAN"     # in a header
C_BODY="cbody$CAN"   # in the body
# Snap length 65600 covers lo's 64 KiB MTU; with -s 0 each ring slot is 256 KiB and the
# default 2 MiB buffer holds 8 packets (it dropped some). -B is in KiB.
start_bg tcpdump "$W/tcpdump.log" tcpdump -i lo -n -s 65600 -B 65536 -U --immediate-mode -Z root \
  -w "$W/lo.pcap" "tcp port $P_OUT or tcp port $P_IN or tcp port $P_SINK"
TCPDUMP=$LAST_PID
CAPTURE_OK=1
if ! wait_until 10 grep -q 'listening on' "$W/tcpdump.log"; then
  fail capture "tcpdump did not start: $(tail -n 2 "$W/tcpdump.log" | tr '\n' ' ')"
  CAPTURE_OK=0
fi

# ---------------------------------------------------------------- 3. Postfix as the sender

section "3. Postfix relaying through outbound -> inbound -> aiosmtpd sink"
"$PY" "$HERE/mkmsg.py" "$MSG/relay.eml" 102400 "e2e-relay-$$" "${C_HDR}r" "${C_BODY}r"
relay_delivered() {
  local from=$1 file=$2 env
  if ! wait_until 60 sink_has "$SINK_A" "$from"; then
    say "nothing from $from in sink A after 60s; Postfix relay log:"
    tail -n 8 "$PF_RELAY/maillog"
    return 1
  fi
  env=$(sink_env "$SINK_A" "$from")
  "$PY" "$HERE/msgcmp.py" body "${env%.env}.eml" "$file"
}
m_out=$(sess_count "$W/gw-out.log")
m_in=$(sess_count "$W/gw-in.log")
check 3.inject "swaks hands 100 KB to the relaying Postfix" \
  send swaks "$P_PFRELAY" "${C_FROM}r@a.test" "$MSG/relay.eml"
check 3.deliver "it reaches sink A with the body byte-exact (CRLF kept)" \
  relay_delivered "${C_FROM}r@a.test" "$MSG/relay.eml"
check 3.log "both gateways logged xcrypt=true with a suite for Postfix's session" \
  eval 'both_encrypted "$m_out" "$m_in"'

# A burst: Postfix then opens parallel connections and reuses them (RSET, next MAIL FROM
# in the same encrypted session).
burst() {
  local i n=20 rc=0
  for i in $(seq 1 "$n"); do
    "$PY" "$HERE/mkmsg.py" "$MSG/burst$i.eml" $((2000 + i * 997)) "e2e-burst$i-$$"
    send swaks "$P_PFRELAY" "t3-burst$i@a.test" "$MSG/burst$i.eml" || return 1
  done
  for i in $(seq 1 "$n"); do
    relay_delivered "t3-burst$i@a.test" "$MSG/burst$i.eml" >/dev/null || { say "burst $i: not delivered or differs"; rc=1; }
  done
  say "$n messages delivered, bodies exact"
  return "$rc"
}
m_out=$(sess_count "$W/gw-out.log")
check 3.burst "20 messages into the relaying Postfix at once: all arrive, bodies exact" burst
burst_sessions() { # the sessions logged so far (Postfix may still hold one open for reuse)
  "$PY" "$HERE/sessions.py" "$W/gw-out.log" --after "$m_out" --want 1 >/dev/null || return 1
  local n=$(($(sess_count "$W/gw-out.log") - m_out))
  say "$n outbound session(s) for 20 messages"
  "$PY" "$HERE/sessions.py" "$W/gw-out.log" --after "$m_out" --want "$n" \
    --expect xcrypt=true --expect suite!=null --expect result=ok
}
check 3.burst.log "every outbound session of the burst was encrypted" burst_sessions

# ---------------------------------------------------------------- 4. the wire

section "4. no plaintext on the gateway<->gateway leg"
"$PY" "$HERE/mkmsg.py" "$MSG/canary.eml" 4096 "e2e-canary-$$" "$C_HDR" "$C_BODY"
m_out=$(sess_count "$W/gw-out.log")
m_in=$(sess_count "$W/gw-in.log")
check 4.send "a message with canaries in MAIL FROM, a header and the body, via swaks" \
  send_and_compare swaks "$P_OUT" "$SINK_A" "${C_FROM}@a.test" "$MSG/canary.eml"
check 4.send.smtplib "the same via smtplib" \
  send_and_compare smtplib "$P_OUT" "$SINK_A" "${C_FROM}s@a.test" "$MSG/canary.eml"
# Session lines are written at the end of each session: after them nothing more is sent.
"$PY" "$HERE/sessions.py" "$W/gw-out.log" --after "$m_out" --want 2 >/dev/null
"$PY" "$HERE/sessions.py" "$W/gw-in.log" --after "$m_in" --want 2 >/dev/null
# tcpdump writes packets in order: once a last sentinel packet is in the file, everything
# before it is too. (On SIGINT it drops what it has not written yet.)
sentinel() {
  exec 3<>"/dev/tcp/127.0.0.1/$P_SINK" || return 1
  printf 'NOOP %s\r\nQUIT\r\n' "$1" >&3
  cat <&3 >/dev/null
  exec 3<&-
}
SENTINEL="e2e-sentinel-$$-$RANDOM"
if [ "$CAPTURE_OK" = 1 ] && ! { sentinel "$SENTINEL" && wait_until 10 grep -qaF "$SENTINEL" "$W/lo.pcap"; }; then
  fail capture "tcpdump did not write the sentinel packet within 10s"
  CAPTURE_OK=0
fi
stop_pid "$TCPDUMP" INT 10
if [ "$CAPTURE_OK" = 1 ]; then
  grep -E 'captured|dropped' "$W/tcpdump.log" | sed 's/^/     /'
  check 4.wire "gateway<->gateway ($P_IN): no canary after the XCRYPT switch point" \
    "$PY" "$HERE/pcapcheck.py" "$W/lo.pcap" --port "$P_IN" --after-switch \
    --absent "$C_FROM" --absent "$C_HDR" --absent "$C_BODY" --absent "$CAN" \
    --absent "MAIL FROM" --absent "RCPT TO" --absent "X-E2E-Id"
  check 4.wire.ehlo "gateway<->gateway: not even the canaries in the plaintext part" \
    "$PY" "$HERE/pcapcheck.py" "$W/lo.pcap" --port "$P_IN" --absent "$CAN"
  check 4.wire.control "inbound->sink ($P_SINK): the canaries ARE there in plaintext" \
    "$PY" "$HERE/pcapcheck.py" "$W/lo.pcap" --port "$P_SINK" \
    --present "$C_FROM" --present "$C_HDR" --present "$C_BODY"
  check 3.pipelined "Postfix pipelined MAIL, RCPT and DATA into the outbound gateway" \
    "$PY" "$HERE/pcapcheck.py" "$W/lo.pcap" --port "$P_OUT" \
    --one-segment "MAIL FROM:<${C_FROM}r@a.test>" --one-segment "RCPT TO:" --one-segment "DATA"
fi

# ---------------------------------------------------------------- 5. fallback

section "5. fallback to plaintext"
m=$(sess_count "$W/gw-ob.log")
check 5a.deliver "outbound gateway -> plain aiosmtpd: 100 KB delivered byte-exact" \
  send_and_compare swaks "$P_OBF" "$SINK_B" t5a@a.test "$MSG/100k.eml"
check 5a.log "outbound logged xcrypt=false fallback=not-offered" \
  sessions "$W/gw-ob.log" "$m" xcrypt=false fallback=not-offered result=ok

m=$(sess_count "$W/gw-in.log")
check 5b.deliver "plain swaks straight to the inbound gateway: 100 KB byte-exact" \
  send_and_compare swaks "$P_IN" "$SINK_A" t5b@a.test "$MSG/100k.eml"
check 5b.log "inbound logged xcrypt=false" sessions "$W/gw-in.log" "$m" xcrypt=false result=ok

m=$(sess_count "$W/gw-in.log")
badxcrypt() {
  timeout 60 "$PY" "$HERE/pyclient.py" badxcrypt "$P_IN" t5c@a.test "$RCPT" "$MSG/1k.eml" || return 1
  delivered_exact "$SINK_A" t5c@a.test "$MSG/1k.eml"
}
check 5c.badxcrypt "malformed XCRYPT gets 501 XCRYPT FAIL, then the mail goes through in plaintext" \
  badxcrypt
check 5c.log "inbound logged xcrypt=false" sessions "$W/gw-in.log" "$m" xcrypt=false

# ---------------------------------------------------------------- 6. faults

section "6. faults"
expect_4xx() { # expect_4xx PORT FROM CODE: swaks fails and its transcript shows CODE
  local rc=0
  timeout 60 swaks --server "127.0.0.1:$1" --helo "$HELO" --from "$2" --to "$RCPT" \
    --body "fault test" >"$W/swaks-$2.log" 2>&1 || rc=$?
  grep -E '^(<-|<\*\*|\*\*\*)' "$W/swaks-$2.log" | tail -n 6
  say "swaks exit $rc"
  if [ "$rc" = 0 ]; then say "swaks succeeded: expected a $3 failure"; return 1; fi
  if [ "$rc" = 124 ]; then say "swaks hung (timeout 60s)"; return 1; fi
  grep -qE "^<\*\* +$3" "$W/swaks-$2.log" || { say "no '$3' reply in the transcript"; return 1; }
}
if listening "$P_DEAD"; then
  fail 6a.upstream-down "port $P_DEAD should be closed but listens"
else
  check 6a.upstream-down "upstream closed: swaks gets 421 4.4.1 and fails" \
    expect_4xx "$P_IND" t6a@a.test "421 4.4.1"
fi

text_log() {
  cat "$W/gw-ind.log"
  # GATEWAY.md shows no more fields; the gateway adds require_xcrypt=: allowed.
  grep -qE "^ssmail gateway: listening mode=inbound listen=127\.0\.0\.1:$P_IND upstream=127\.0\.0\.1:$P_DEAD( |$)" \
    "$W/gw-ind.log" || { say "no text listening line"; return 1; }
  grep -qE "^session mode=inbound peer=127\.0\.0\.1:[0-9]+ upstream=127\.0\.0\.1:$P_DEAD xcrypt=no .*result=" \
    "$W/gw-ind.log" || { say "no text session line with xcrypt=no"; return 1; }
}
check 6a.log "text log format: listening line and a session line with xcrypt=no" \
  eval 'wait_until 10 text_log; text_log'

nothing_arrived() { # nothing_arrived LOG MARK FROM: session over, sink B never saw FROM
  sessions "$1" "$2" xcrypt=false
  if grep -qxF "$3" "$SINK_B/mail_from.log" 2>/dev/null || sink_has "$SINK_B" "$3"; then
    say "sink B saw MAIL FROM:<$3>: sent in plaintext although XCRYPT was required"
    return 1
  fi
  say "sink B never saw MAIL FROM:<$3>"
}
m=$(sess_count "$W/gw-ob.log")
check 6b.require.route "config route with require_xcrypt to a plain server: 421 4.7.0" \
  expect_4xx "$P_OBREQ" t6b@a.test "421 4.7.0"
check 6b.require.route.sink "nothing reached the plain server" nothing_arrived "$W/gw-ob.log" "$m" t6b@a.test
m=$(sess_count "$W/gw-obreq.log")
check 6b.require.flag "--require-xcrypt to a plain server: 421 4.7.0" \
  expect_4xx "$P_OBREQF" t6bf@a.test "421 4.7.0"
check 6b.require.flag.sink "nothing reached the plain server" nothing_arrived "$W/gw-obreq.log" "$m" t6bf@a.test

m_out=$(sess_count "$W/gw-out.log")
m_in=$(sess_count "$W/gw-in.log")
dropped() {
  timeout 60 "$PY" "$HERE/pyclient.py" dropdata "$P_OUT" t6c@a.test "$RCPT" "$MSG/100k.eml" || return 1
  sessions "$W/gw-out.log" "$m_out" || true
  sessions "$W/gw-in.log" "$m_in" || true
  # Both sessions are over; a "." the gateway made up would be stored within a moment.
  if wait_until 1 sink_has "$SINK_A" t6c@a.test; then
    say "a message from t6c@a.test was delivered: the gateway finished a DATA the client dropped"
    return 1
  fi
  say "not delivered"
}
check 6c.drop-in-data "client drops mid-DATA (through the pair): nothing is delivered" dropped

# ---------------------------------------------------------------- shutdown

section "shutdown"
all_alive() {
  local rc=0 p
  for p in "${GATEWAYS[@]}"; do
    alive "$p" || { say "gateway $p is gone"; rc=1; }
  done
  return "$rc"
}
check 7.alive "all 7 gateways still running after the tests" all_alive
check 7.sigterm "SIGTERM: every gateway exits 0" stop_gateways "${GATEWAYS[@]}"
panic_check 7.panic

e2e_summary
