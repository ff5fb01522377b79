#!/usr/bin/env bash
# Load test of the `ssmail gateway` pair (gateway/GATEWAY.md).
#
#   A (direct):   smtp_load sender ──▶ smtp_load sink
#   B (the pair): smtp_load sender ──▶ ssmail gateway outbound ══XCRYPT══▶ ssmail gateway inbound ──▶ sink
#   C (relays):   smtp_load sender ──▶ TCP forwarder ──▶ TCP forwarder ──▶ sink
#
# A, B and C alternate (A B C A B C A B C by default: the machine is shared and noisy); the
# report gives the median throughput of each, the wall-time overhead of B against A (and
# against C: two proxy hops that only copy bytes, so B against C is what the gateways' own
# work costs), and CPU time per message: the gateways' and the forwarders' (from
# /proc/PID/stat, before and after each round) against the sink's and the sender's (smtp_load
# measures its own threads). Every run checks that each message arrived exactly once and
# byte-identical; every gateway session must have used XCRYPT and ended ok. The whole set is
# run twice: "main" with --per-session messages per session (default 1: a session per
# message), and "multi" with --multi-per-session (default 20).
#
# Usage: e2e/load.sh [--quick] [--standin] [--rounds N] [--messages N] [--concurrency N]
#                    [--size BYTES] [--per-session N] [--multi-per-session N]
#                    [--report PATH] [--keep] [--no-relays] [--postfix [--postfix-messages N]]
#                    [--key-lifetime SECS] [--dh-batch auto|always|never]
#                    [--no-build] [--ssmail PATH] [--smtp-load PATH]
#
#   --quick       1,000 messages per run instead of 10,000 (for CI: a smoke test; its figures
#                 are rough, a run lasts ~0.1 s, CPU ticks are 10 ms = 10 us/message, and one
#                 session delayed by a SYN retransmission (1 s) dominates a run)
#   --standin     the forwarders in place of the gateways (B is then C, and C is skipped):
#                 for testing this script without the gateway; no XCRYPT checks
#   --no-relays   skip C
#   --key-lifetime SECS   the gateways' key_lifetime_secs (config file): a short one makes key
#                 pairs rotate during the runs (each session must still use XCRYPT)
#   --dh-batch MODE   the gateways' limits.dh_batch (config file): `always` runs the
#                 multi-buffer batch path of the DH pool on any CPU (GATEWAY.md)
#   --postfix     also measure against a real MTA: a scratch Postfix instance (in the work
#                 directory, listening on 127.0.0.1, discarding all mail; needs root and the
#                 postfix user) reached directly (D) and through a second gateway pair (E);
#                 its CPU per message (master, daemons and reaped children) is the paper's
#                 yardstick for the inbound gateway's CPU. --postfix-messages: per run
#                 (default 2,000; 500 with --quick). Replies are checked, delivery is not.
#   --report PATH write the JSON report there (also: env LOAD_REPORT)
#   --keep        keep the work directory (logs, per-run JSON)
#   --no-build    use the binaries already built in $CARGO_TARGET_DIR (default: target/)
#   --ssmail, --smtp-load   prebuilt binaries (imply --no-build)
#
# Needs: bash, jq, Linux /proc (and for --postfix: root, postfix). Exit status: 0 all good, 1 a check failed, 2 usage/setup.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MESSAGES=10000
CONCURRENCY=200
SIZE=2048
PER_SESSION=1
ROUNDS=3
MULTI_PER_SESSION=20
STANDIN=0
QUICK=0
RELAYS=1
POSTFIX=0
KEY_LIFETIME=
DH_BATCH=
PF_MESSAGES=
BUILD=1
KEEP=0
REPORT=${LOAD_REPORT:-}
SSMAIL=
SMTP_LOAD=

die() { echo "load.sh: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case $1 in
    --quick) MESSAGES=1000; QUICK=1 ;;
    --standin) STANDIN=1 ;;
    --no-relays) RELAYS=0 ;;
    --postfix) POSTFIX=1 ;;
    --key-lifetime) KEY_LIFETIME=$2; shift ;;
    --dh-batch) DH_BATCH=$2; shift ;;
    --postfix-messages) PF_MESSAGES=$2; shift ;;
    --rounds) ROUNDS=$2; shift ;;
    --messages) MESSAGES=$2; shift ;;
    --concurrency) CONCURRENCY=$2; shift ;;
    --size) SIZE=$2; shift ;;
    --per-session) PER_SESSION=$2; shift ;;
    --multi-per-session) MULTI_PER_SESSION=$2; shift ;;
    --report) REPORT=$2; shift ;;
    --keep) KEEP=1 ;;
    --no-build) BUILD=0 ;;
    --ssmail) SSMAIL=$2; BUILD=0; shift ;;
    --smtp-load) SMTP_LOAD=$2; BUILD=0; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
  shift
done

command -v jq >/dev/null || die "jq is needed"
[ -r /proc/self/stat ] || die "/proc is needed (Linux)"

START=$SECONDS
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
if [ "$BUILD" = 1 ]; then
  echo "load.sh: building (release) ..." >&2
  (cd "$ROOT" && cargo build --release --locked -p ssmail -p ssmail-loadgen --bins) >&2
fi
SSMAIL=${SSMAIL:-$TARGET_DIR/release/ssmail}
SMTP_LOAD=${SMTP_LOAD:-$TARGET_DIR/release/smtp_load}
[ -x "$SMTP_LOAD" ] || die "no smtp_load binary at $SMTP_LOAD"
if [ "$STANDIN" = 0 ]; then
  [ -x "$SSMAIL" ] || die "no ssmail binary at $SSMAIL"
  "$SSMAIL" gateway --help >/dev/null 2>&1 || die "$SSMAIL has no 'gateway' command (try --standin)"
fi
BUILD_SECS=$((SECONDS - START))

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ssmail-load.XXXXXX")
PIDS=()
# shellcheck disable=SC2317  # called by the trap
cleanup() {
  local pid
  if [ -n "${PF:-}" ] && [ -f "$PF/etc/main.cf" ]; then
    postfix -c "$PF/etc" stop >/dev/null 2>&1 || true
  fi
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ "$KEEP" = 1 ]; then echo "load.sh: work directory kept: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# Three free ports below the ephemeral range.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_port() {
  local p
  for _ in $(seq 100); do
    p=$((10000 + RANDOM % 22000))
    if port_free "$p" && [[ " $USED_PORTS " != *" $p "* ]]; then
      echo "$p"
      return
    fi
  done
  die "no free port"
}
USED_PORTS=
P_SINK=$(pick_port); USED_PORTS="$USED_PORTS $P_SINK"
P_IN=$(pick_port); USED_PORTS="$USED_PORTS $P_IN"
P_OUT=$(pick_port); USED_PORTS="$USED_PORTS $P_OUT"
R_IN=$(pick_port); USED_PORTS="$USED_PORTS $R_IN"
R_OUT=$(pick_port); USED_PORTS="$USED_PORTS $R_OUT"
P_PF=$(pick_port); USED_PORTS="$USED_PORTS $P_PF"
PF_IN=$(pick_port); USED_PORTS="$USED_PORTS $PF_IN"
PF_OUT=$(pick_port)

# utime+stime of a process, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)
# CPU clock ticks of a process tree of depth one (Postfix's master and its daemons): the
# master's own and reaped children's time, and its live children's own.
tree_cpu() {
  { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v root="$1" '
    { line = $0; sub(/^[0-9]+ \(.*\) /, "", line); split(line, f, " ")
      if ($1 == root) t += f[12] + f[13] + f[14] + f[15]
      else if (f[2] == root) t += f[12] + f[13] }
    END { print t + 0 }'
}

wait_for() { # FILE PATTERN: until a line of FILE matches (10 s)
  for _ in $(seq 100); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "load.sh: timed out waiting for '$2' in $1:" >&2
  cat "$1" >&2
  exit 2
}

if [ "$STANDIN" = 1 ] || [ "$RELAYS" = 1 ]; then
  "$SMTP_LOAD" --forward "127.0.0.1:$R_IN=127.0.0.1:$P_SINK" 2>"$WORK/relay-in.log" &
  RPID_IN=$!; PIDS+=("$RPID_IN")
  "$SMTP_LOAD" --forward "127.0.0.1:$R_OUT=127.0.0.1:$R_IN" 2>"$WORK/relay-out.log" &
  RPID_OUT=$!; PIDS+=("$RPID_OUT")
  wait_for "$WORK/relay-in.log" forwarding
  wait_for "$WORK/relay-out.log" forwarding
  echo "load.sh: relays up: :$R_OUT (pid $RPID_OUT) -> :$R_IN (pid $RPID_IN) -> sink :$P_SINK" >&2
fi
if [ "$STANDIN" = 1 ]; then
  MODE=standin
  RELAYS=0
  P_OUT=$R_OUT; PID_IN=$RPID_IN; PID_OUT=$RPID_OUT
  cp /dev/null "$WORK/inbound.log"; cp /dev/null "$WORK/outbound.log"
else
  MODE=gateway
  # start_pair SUFFIX IN OUT UPSTREAM: an inbound gateway on IN in front of UPSTREAM and
  # an outbound one on OUT in front of it, logging JSON to inbound/outbound$SUFFIX.log;
  # their pids in PAIR_IN and PAIR_OUT. Both pairs (sink, Postfix) are started alike.
  start_pair() {
    "$SSMAIL" gateway inbound --listen "127.0.0.1:$2" --upstream "127.0.0.1:$4" \
      --log-format json "${GW_CONFIG[@]}" 2>"$WORK/inbound$1.log" &
    PAIR_IN=$!; PIDS+=("$PAIR_IN")
    "$SSMAIL" gateway outbound --listen "127.0.0.1:$3" --upstream "127.0.0.1:$2" \
      --log-format json "${GW_CONFIG[@]}" 2>"$WORK/outbound$1.log" &
    PAIR_OUT=$!; PIDS+=("$PAIR_OUT")
    wait_for "$WORK/inbound$1.log" listening
    wait_for "$WORK/outbound$1.log" listening
  }
  GW_CONFIG=()
  if [ -n "$KEY_LIFETIME" ] || [ -n "$DH_BATCH" ]; then
    {
      [ -z "$KEY_LIFETIME" ] || printf 'key_lifetime_secs = %s\n' "$KEY_LIFETIME"
      [ -z "$DH_BATCH" ] || printf '[limits]\ndh_batch = "%s"\n' "$DH_BATCH"
    } >"$WORK/gateway.toml"
    GW_CONFIG=(--config "$WORK/gateway.toml")
  fi
  start_pair "" "$P_IN" "$P_OUT" "$P_SINK"
  PID_IN=$PAIR_IN; PID_OUT=$PAIR_OUT
  echo "load.sh: $MODE pair up: outbound :$P_OUT (pid $PID_OUT) -> inbound :$P_IN (pid $PID_IN) -> sink :$P_SINK" >&2
fi

if [ "$POSTFIX" = 1 ]; then
  [ "$MODE" = gateway ] || die "--postfix needs the gateway (not --standin)"
  [ "$(id -u)" = 0 ] || die "--postfix needs root (Postfix's master runs as root)"
  command -v postfix >/dev/null || die "--postfix: postfix is not installed"
  id postfix >/dev/null 2>&1 || die "--postfix: no postfix user"
  if [ -z "$PF_MESSAGES" ]; then
    PF_MESSAGES=2000
    [ "$QUICK" = 1 ] && PF_MESSAGES=500
  fi
  PF=$WORK/postfix
  mkdir -p "$PF/etc" "$PF/queue" "$PF/data"
  chmod 755 "$WORK"
  chown postfix "$PF/data"
  cat >"$PF/etc/main.cf" <<MAINCF
compatibility_level = 3.6
queue_directory = $PF/queue
data_directory = $PF/data
maillog_file = $PF/maillog
maillog_file_prefixes = $PF
mail_owner = postfix
myhostname = pfload.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relay_domains = sink.test
smtpd_relay_restrictions = permit_mynetworks, reject
default_transport = discard:load
relay_transport = discard:load
alias_maps =
alias_database =
local_recipient_maps =
default_process_limit = 250
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
smtpd_client_message_rate_limit = 0
smtpd_peername_lookup = no
disable_dns_lookups = yes
in_flow_delay = 0
biff = no
MAINCF
  sed -e "s/^smtp \{1,\}inet .*/127.0.0.1:$P_PF inet n - n - - smtpd/" \
    "$(postconf -d -h config_directory)/master.cf" >"$PF/etc/master.cf"
  postfix -c "$PF/etc" start >/dev/null 2>&1 || die "Postfix did not start (see $PF/maillog)"
  for _ in $(seq 50); do
    [ -s "$PF/queue/pid/master.pid" ] && break
    sleep 0.1
  done
  PF_MASTER=$(tr -d ' \n' <"$PF/queue/pid/master.pid") || die "no Postfix master.pid"
  start_pair -pf "$PF_IN" "$PF_OUT" "$P_PF"
  PF_PID_IN=$PAIR_IN; PF_PID_OUT=$PAIR_OUT
  echo "load.sh: Postfix (master $PF_MASTER) on :$P_PF; second pair: outbound :$PF_OUT -> inbound :$PF_IN -> Postfix" >&2
fi

session_lines() { # LOGFILE: number of session lines so far
  jq -R 'fromjson? | select(.event == "session")' "$1" 2>/dev/null | jq -s length
}

FAILED=0
RUNS=$WORK/runs.jsonl
: >"$RUNS"

# run KIND LABEL PER_SESSION: one smtp_load run; appends a line to runs.jsonl.
#   A: sender -> sink                  B: sender -> gateway pair -> sink
#   C: sender -> relay pair -> sink     (all three check delivery in the sink)
#   D: sender -> Postfix                E: sender -> second gateway pair -> Postfix
#   (D and E check the replies only; Postfix discards the mail)
run() {
  local kind=$1 label=$2 per_session=$3
  local out=$WORK/$label.json rc=0 to pid_in=$PID_IN pid_out=$PID_OUT
  local log_in=$WORK/inbound.log log_out=$WORK/outbound.log messages=$MESSAGES
  local sink=(--sink-listen "127.0.0.1:$P_SINK")
  case $kind in
    A) to=$P_SINK ;;
    B) to=$P_OUT ;;
    C) to=$R_OUT; pid_in=$RPID_IN; pid_out=$RPID_OUT ;;
    D|E)
      to=$P_PF; [ "$kind" = E ] && to=$PF_OUT
      pid_in=$PF_PID_IN; pid_out=$PF_PID_OUT; messages=$PF_MESSAGES
      log_in=$WORK/inbound-pf.log; log_out=$WORK/outbound-pf.log
      sink=() ;;
  esac
  local in0 out0 logs_in0 logs_out0 server0=0
  in0=$(cpu_ticks "$pid_in"); out0=$(cpu_ticks "$pid_out")
  logs_in0=$(wc -l <"$log_in"); logs_out0=$(wc -l <"$log_out")
  case $kind in D|E) server0=$(tree_cpu "$PF_MASTER") ;; esac
  "$SMTP_LOAD" "${sink[@]}" --send-to "127.0.0.1:$to" \
    --messages "$messages" --concurrency "$CONCURRENCY" --size "$SIZE" \
    --per-session "$per_session" --label "$label" --json \
    >"$out" 2>"$WORK/$label.txt" || rc=$?
  sed 's/^/  /' "$WORK/$label.txt" >&2
  if [ "$rc" != 0 ] || [ ! -s "$out" ]; then
    echo "load.sh: run $label FAILED (exit $rc)" >&2
    FAILED=1
    [ -s "$out" ] || echo '{}' >"$out"
  fi
  local sessions; sessions=$(jq '.sessions // 0' "$out")
  local sessions_json='null'
  if { [ "$kind" = B ] || [ "$kind" = E ]; } && [ "$MODE" = gateway ]; then
    # Each session is logged when it ends, which may be a moment after the sender saw it close.
    local n_in n_out
    for _ in $(seq 50); do
      n_in=$(tail -n +"$((logs_in0 + 1))" "$log_in" | session_lines /dev/stdin)
      n_out=$(tail -n +"$((logs_out0 + 1))" "$log_out" | session_lines /dev/stdin)
      [ "$n_in" -ge "$sessions" ] && [ "$n_out" -ge "$sessions" ] && break
      sleep 0.1
    done
    sessions_json=$(
      for side in inbound outbound; do
        local from=$logs_in0 log=$log_in
        if [ $side = outbound ]; then from=$logs_out0; log=$log_out; fi
        tail -n +"$((from + 1))" "$log" |
          jq -R 'fromjson? | select(.event == "session")' |
          jq -s --arg side "$side" '{($side): {
              sessions: length,
              xcrypt: map(select(.xcrypt == true)) | length,
              cache_hit: map(select(.cache == "hit")) | length,
              cache_miss: map(select(.cache == "miss")) | length,
              ok: map(select(.result == "ok")) | length,
              suites: (group_by(.suite) | map({key: (.[0].suite // "none"), value: length}) | from_entries),
              fallbacks: (map(select(.fallback != null)) | group_by(.fallback)
                          | map({key: .[0].fallback, value: length}) | from_entries),
              results: (group_by(.result) | map({key: (.[0].result | tostring), value: length}) | from_entries)
            }}'
      done | jq -s 'add'
    )
  else
    sleep 0.2 # let the forwarders' last copies finish before reading their CPU time
  fi
  local server_ticks=null
  case $kind in
    D|E) # Postfix delivers (discards) after its 250: wait for an empty queue.
      for _ in $(seq 100); do
        [ -z "$(find "$PF/queue/incoming" "$PF/queue/active" -type f 2>/dev/null | head -n 1)" ] && break
        sleep 0.1
      done
      sleep 0.3
      server_ticks=$(($(tree_cpu "$PF_MASTER") - server0)) ;;
  esac
  local pid
  for pid in "$pid_in" "$pid_out"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "load.sh: FAILED: proxy process $pid died during $label; logs in $WORK" >&2
      tail -n 5 "$WORK"/*.log >&2
      KEEP=1
      exit 1
    fi
  done
  local in1 out1
  in1=$(cpu_ticks "$pid_in"); out1=$(cpu_ticks "$pid_out")
  jq -c --arg kind "$kind" --argjson rc "$rc" --argjson tck "$TCK" \
    --argjson cin "$((in1 - in0))" --argjson cout "$((out1 - out0))" \
    --argjson server "$server_ticks" --argjson logs "$sessions_json" \
    '{kind: $kind, exit: $rc, run: .,
      gateway_cpu_secs: {inbound: ($cin / $tck), outbound: ($cout / $tck)},
      server_cpu_secs: (if $server == null then null else $server / $tck end),
      gateway_logs: $logs}' "$out" >>"$RUNS"
}

# Scenario "main": $PER_SESSION messages per session (default 1: 10,000 sessions).
# Scenario "multi": $MULTI_PER_SESSION messages per session over the same pair.
for scenario in main multi; do
  ps=$PER_SESSION; [ $scenario = multi ] && ps=$MULTI_PER_SESSION
  for r in $(seq "$ROUNDS"); do
    run A "$scenario-A$r" "$ps"
    run B "$scenario-B$r" "$ps"
    if [ "$RELAYS" = 1 ]; then run C "$scenario-C$r" "$ps"; fi
  done
done

if [ "$POSTFIX" = 1 ]; then
  for scenario in main multi; do
    ps=$PER_SESSION; [ $scenario = multi ] && ps=$MULTI_PER_SESSION
    for r in $(seq "$ROUNDS"); do
      run D "pf-$scenario-D$r" "$ps"
      run E "pf-$scenario-E$r" "$ps"
    done
  done
fi

RUN_SECS=$((SECONDS - START - BUILD_SECS))

# The report. jq: runs.jsonl holds one object per run: {kind, exit, run: <smtp_load JSON>,
# gateway_cpu_secs: {inbound, outbound} (of the pair the run went through; in A the gateway
# pair's, idle), gateway_logs}.
REPORT_JSON=$(jq -s --arg mode "$MODE" --argjson messages "$MESSAGES" \
  --argjson concurrency "$CONCURRENCY" --argjson size "$SIZE" \
  --argjson rounds "$ROUNDS" --argjson build_secs "$BUILD_SECS" --argjson run_secs "$RUN_SECS" \
  --argjson nproc "$(nproc)" '
  def median: map(select(. != null)) | sort | if length == 0 then null
    elif length % 2 == 1 then .[(length - 1) / 2]
    else (.[length / 2 - 1] + .[length / 2]) / 2 end;
  def us_per_msg(f): (f) * 1e6 / ([.run.accepted // 0, 1] | max);
  def pct(a; b): if a != null and b != null and b > 0 then (a / b - 1) * 100 else null end;
  # The median figures of one kind of run.
  def side(runs; proxies):
    if (runs | length) == 0 then null else {
      messages_per_sec: (runs | map(.run.messages_per_sec)),
      median_messages_per_sec: (runs | map(.run.messages_per_sec) | median),
      median_mb_per_sec: (runs | map(.run.mb_per_sec) | median),
      median_wall_secs: (runs | map(.run.wall_secs) | median),
      median_session_ms_p50: (runs | map(.run.session_ms_p50) | median),
      max_session_ms: (runs | map(.run.session_ms_max) | max),
      cpu_us_per_message: ({
        sink: (runs | map(us_per_msg(.run.cpu.sink_secs)) | median),
        sender: (runs | map(us_per_msg(.run.cpu.sender_secs)) | median)
      } + (if proxies then {
        outbound: (runs | map(us_per_msg(.gateway_cpu_secs.outbound)) | median),
        inbound: (runs | map(us_per_msg(.gateway_cpu_secs.inbound)) | median),
        both: (runs | map(us_per_msg(.gateway_cpu_secs.outbound + .gateway_cpu_secs.inbound)) | median)
      } else {} end))
    } end;
  def scenario(runs):
    (runs | map(select(.kind == "A"))) as $a
    | (runs | map(select(.kind == "B"))) as $b
    | (runs | map(select(.kind == "C"))) as $c
    | side($a; false) as $A | side($b; true) as $B | side($c; true) as $C
    | {
        per_session: (runs | first | .run.per_session),
        sessions_per_run: (runs | first | .run.sessions),
        ok: (runs | all(.exit == 0 and .run.ok == true)),
        direct: $A, pair: $B, relays: $C,
        # Wall time per message of the pair against direct, and against two byte-copying relays.
        wall_overhead_pct: pct($A.median_messages_per_sec; $B.median_messages_per_sec),
        wall_overhead_vs_relays_pct: pct($C.median_messages_per_sec; $B.median_messages_per_sec),
        relays_wall_overhead_pct: pct($A.median_messages_per_sec; $C.median_messages_per_sec),
        # CPU per message: the gateways against what the sink (and the sender) spend in A.
        gateways_cpu_us_per_message: $B.cpu_us_per_message.both,
        inbound_gateway_cpu_vs_direct_sink_pct:
          (if $A.cpu_us_per_message.sink > 0 then $B.cpu_us_per_message.inbound / $A.cpu_us_per_message.sink * 100 else null end),
        gateways_cpu_vs_direct_sink_and_sender_pct:
          (if ($A.cpu_us_per_message.sink + $A.cpu_us_per_message.sender) > 0
           then $B.cpu_us_per_message.both / ($A.cpu_us_per_message.sink + $A.cpu_us_per_message.sender) * 100 else null end),
        gateways_cpu_beyond_relays_us_per_message:
          (if $C then $B.cpu_us_per_message.both - $C.cpu_us_per_message.both else null end)
      };
  # Against Postfix: its CPU per message (all its processes) directly (D) and behind a second
  # gateway pair (E); the inbound gateway is what the receiving server adds.
  def pfscenario(runs):
    (runs | map(select(.kind == "D"))) as $d
    | (runs | map(select(.kind == "E"))) as $e
    | ($d | map(us_per_msg(.server_cpu_secs)) | median) as $pf_d
    | ($e | map(us_per_msg(.server_cpu_secs)) | median) as $pf_e
    | ($e | map(us_per_msg(.gateway_cpu_secs.inbound)) | median) as $gin
    | ($e | map(us_per_msg(.gateway_cpu_secs.outbound)) | median) as $gout
    | {
        per_session: (runs | first | .run.per_session),
        messages_per_run: (runs | first | .run.messages),
        ok: (runs | all(.exit == 0 and .run.ok == true)),
        direct_messages_per_sec: ($d | map(.run.messages_per_sec)),
        pair_messages_per_sec: ($e | map(.run.messages_per_sec)),
        wall_overhead_pct: pct($d | map(.run.messages_per_sec) | median; $e | map(.run.messages_per_sec) | median),
        postfix_cpu_us_per_message_direct: $pf_d,
        postfix_cpu_us_per_message_behind_pair: $pf_e,
        inbound_gateway_cpu_us_per_message: $gin,
        outbound_gateway_cpu_us_per_message: $gout,
        # The paper measure for the receiving server: its extra CPU per message (the inbound
        # gateway) against its MTA CPU per message.
        inbound_gateway_vs_postfix_pct: (if $pf_d > 0 then $gin / $pf_d * 100 else null end),
        outbound_gateway_vs_postfix_pct: (if $pf_d > 0 then $gout / $pf_d * 100 else null end)
      };
  # The per-key sums of the objects f picks out of each element.
  def merge(f): map(f | to_entries[]) | group_by(.key) | map({key: .[0].key, value: (map(.value) | add)}) | from_entries;
  def logsum(side): map(.gateway_logs | select(. != null) | .[side]) as $l | {
      sessions: ($l | map(.sessions) | add), xcrypt: ($l | map(.xcrypt) | add),
      cache_hit: ($l | map(.cache_hit) | add), cache_miss: ($l | map(.cache_miss) | add),
      ok: ($l | map(.ok) | add),
      suites: ($l | merge(.suites)), fallbacks: ($l | merge(.fallbacks))
    };
  . as $all
  | {
      mode: $mode, nproc: $nproc, messages_per_run: $messages, concurrency: $concurrency,
      size: $size, rounds: $rounds, build_secs: $build_secs, run_secs: $run_secs,
      all_runs_ok: ($all | all(.exit == 0 and .run.ok == true)),
      main: scenario($all | map(select(.run.label // "" | startswith("main-")))),
      multi: scenario($all | map(select(.run.label // "" | startswith("multi-")))),
      postfix: (if ($all | any(.kind == "D")) then {
        main: pfscenario($all | map(select(.run.label // "" | startswith("pf-main-")))),
        multi: pfscenario($all | map(select(.run.label // "" | startswith("pf-multi-"))))
      } else null end),
      xcrypt: (if $mode == "gateway" then
        ($all | map(select(.kind == "B" or .kind == "E"))) as $b | {
          sessions_sent: ($b | map(.run.sessions) | add),
          outbound: ($b | logsum("outbound")), inbound: ($b | logsum("inbound"))
        } else null end),
      runs: ($all | map({label: .run.label, kind, exit, ok: .run.ok, messages_per_sec: .run.messages_per_sec,
                         wall_secs: .run.wall_secs, sessions: .run.sessions, session_ms_max: .run.session_ms_max,
                         cpu_secs: .run.cpu, proxy_cpu_secs: .gateway_cpu_secs,
                         lost: .run.verify.lost, duplicated: .run.verify.duplicated,
                         mismatched: .run.verify.mismatched, errors: .run.errors}))
    }' "$RUNS")

# The XCRYPT checks: every session of the pair was logged on both sides, used XCRYPT and ended
# ok; the key exchange without a cached key happens once per side (the first session).
if [ "$MODE" = gateway ]; then
  XC_OK=$(jq '.xcrypt | .sessions_sent as $n | [.outbound, .inbound]
              | all(.sessions == $n and .xcrypt == $n and .ok == $n)' <<<"$REPORT_JSON")
  if [ "$XC_OK" != true ]; then
    echo "load.sh: FAILED: not every session of the pair was logged, used XCRYPT and ended ok" >&2
    FAILED=1
  fi
  MISSES=$(jq '.xcrypt.outbound.cache_miss' <<<"$REPORT_JSON")
  if [ "$MISSES" != $((1 + POSTFIX)) ]; then
    echo "load.sh: note: $MISSES outbound sessions were cache misses (expected $((1 + POSTFIX)): the first of each pair)" >&2
  fi
fi
[ "$(jq .all_runs_ok <<<"$REPORT_JSON")" = true ] || FAILED=1
REPORT_JSON=$(jq --argjson failed "$FAILED" '. + {ok: ($failed == 0)}' <<<"$REPORT_JSON")

jq -r '
  def f(n): if . == null then "n/a" else (. * pow(10; n) | round) / pow(10; n) | tostring end;
  def rates: map(f(0)) | join(" ");
  def scen(name):
    .[name] as $s |
    "\(name): \($s.per_session) message(s) per session, \($s.sessions_per_run) sessions per run: \(if $s.ok then "OK" else "FAILED" end)",
    "  direct (sender -> sink):            median \($s.direct.median_messages_per_sec | f(0)) msg/s \($s.direct.median_mb_per_sec | f(1)) MB/s  [\($s.direct.messages_per_sec | rates)]",
    "  pair   (sender -> out => in -> sink): median \($s.pair.median_messages_per_sec | f(0)) msg/s \($s.pair.median_mb_per_sec | f(1)) MB/s  [\($s.pair.messages_per_sec | rates)]  slowest session \($s.pair.max_session_ms | f(0)) ms",
    (if $s.relays then
    "  relays (sender -> fwd -> fwd -> sink): median \($s.relays.median_messages_per_sec | f(0)) msg/s \($s.relays.median_mb_per_sec | f(1)) MB/s  [\($s.relays.messages_per_sec | rates)]" else empty end),
    "  wall time per message, pair vs direct: +\($s.wall_overhead_pct | f(1)) %" + (if $s.relays then "; pair vs relays: +\($s.wall_overhead_vs_relays_pct | f(1)) %; relays vs direct: +\($s.relays_wall_overhead_pct | f(1)) %" else "" end),
    "  CPU us/message: direct: sink \($s.direct.cpu_us_per_message.sink | f(1)), sender \($s.direct.cpu_us_per_message.sender | f(1)); pair: outbound \($s.pair.cpu_us_per_message.outbound | f(1)), inbound \($s.pair.cpu_us_per_message.inbound | f(1))" + (if $s.relays then "; relays: \($s.relays.cpu_us_per_message.outbound | f(1)) + \($s.relays.cpu_us_per_message.inbound | f(1))" else "" end),
    "  inbound gateway CPU = \($s.inbound_gateway_cpu_vs_direct_sink_pct | f(0)) % of the direct sink'"'"'s; both gateways = \($s.gateways_cpu_vs_direct_sink_and_sender_pct | f(0)) % of sink+sender" + (if $s.relays then "; the gateways beyond the relays: \($s.gateways_cpu_beyond_relays_us_per_message | f(1)) us/message" else "" end);
  "load.sh: \(.mode) pair, \(.messages_per_run) messages per run, concurrency \(.concurrency), ~\(.size) bytes, \(.rounds) rounds of each kind on \(.nproc) CPUs: \(if .ok then "OK" else "FAILED" end)",
  scen("main"), scen("multi"),
  (if .postfix then (.postfix.main, .postfix.multi) | select(. != null) |
    "Postfix, \(.per_session) message(s) per session, \(.messages_per_run) per run: \(if .ok then "OK" else "FAILED" end)",
    "  direct [\(.direct_messages_per_sec | rates)] msg/s, behind the pair [\(.pair_messages_per_sec | rates)] msg/s: wall +\(.wall_overhead_pct | f(1)) %",
    "  CPU us/message: Postfix \(.postfix_cpu_us_per_message_direct | f(0)) (behind the pair \(.postfix_cpu_us_per_message_behind_pair | f(0))); inbound gateway \(.inbound_gateway_cpu_us_per_message | f(1)) = \(.inbound_gateway_vs_postfix_pct | f(1)) % of Postfix; outbound gateway \(.outbound_gateway_cpu_us_per_message | f(1)) = \(.outbound_gateway_vs_postfix_pct | f(1)) %"
  else empty end),
  (if .xcrypt then "XCRYPT: sessions sent \(.xcrypt.sessions_sent); outbound: \(.xcrypt.outbound.xcrypt) XCRYPT, \(.xcrypt.outbound.ok) ok, cache hit \(.xcrypt.outbound.cache_hit) miss \(.xcrypt.outbound.cache_miss); inbound: \(.xcrypt.inbound.xcrypt) XCRYPT, \(.xcrypt.inbound.ok) ok, cache hit \(.xcrypt.inbound.cache_hit) miss \(.xcrypt.inbound.cache_miss); suites \(.xcrypt.outbound.suites | tostring); plaintext fallbacks: outbound \(.xcrypt.outbound.fallbacks | tostring), inbound \(.xcrypt.inbound.fallbacks | tostring)" else "XCRYPT: not checked (stand-in forwarders)" end),
  "Wall-time overheads: sender, sink and proxies share \(.nproc) CPUs and the run is CPU-bound, so they reflect total CPU, not the paper'"'"'s per-server measure; CPU per message is that measure, but our sink is a toy next to a real MTA.",
  "time: build \(.build_secs) s, runs \(.run_secs) s"
' <<<"$REPORT_JSON"

if [ -n "$REPORT" ]; then
  printf '%s\n' "$REPORT_JSON" >"$REPORT"
  echo "load.sh: report written to $REPORT" >&2
fi
exit "$FAILED"
