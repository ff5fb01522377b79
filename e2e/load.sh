#!/usr/bin/env bash
# Load test of the `ssmail gateway` pair (cli/GATEWAY.md).
#
#   A (direct):   smtp_load sender ──▶ smtp_load sink
#   B (the pair): smtp_load sender ──▶ ssmail gateway outbound ══XCRYPT══▶ ssmail gateway inbound ──▶ sink
#
# A and B alternate (A B A B A B by default: the machine is shared and noisy); the report gives
# the median throughput of each, the wall-time overhead of B against A, and CPU time per
# message: the gateways' (from /proc/PID/stat, before and after each B round) against the
# sink's and the sender's (smtp_load measures its own threads). Every run checks that each
# message arrived exactly once and byte-identical; every gateway session must have used XCRYPT.
# One more run through the pair with several messages per session checks correctness only.
#
# Usage: e2e/load.sh [--quick] [--standin] [--rounds N] [--messages N] [--concurrency N]
#                    [--size BYTES] [--per-session N] [--report PATH] [--keep]
#                    [--no-build] [--ssmail PATH] [--smtp-load PATH]
#
#   --quick       1,000 messages per run instead of 10,000 (for CI)
#   --standin     two plain TCP forwarders (smtp_load --forward) in place of the gateways:
#                 for testing this script without the gateway; no XCRYPT checks
#   --report PATH write the JSON report there (also: env LOAD_REPORT)
#   --keep        keep the work directory (logs, per-run JSON)
#   --no-build    use the binaries already built in $CARGO_TARGET_DIR (default: target/)
#   --ssmail, --smtp-load   prebuilt binaries (imply --no-build)
#
# Needs: bash, jq, Linux /proc. Exit status: 0 all good, 1 a check failed, 2 usage/setup.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MESSAGES=10000
CONCURRENCY=200
SIZE=2048
PER_SESSION=1
ROUNDS=3
MULTI_PER_SESSION=20
STANDIN=0
BUILD=1
KEEP=0
REPORT=${LOAD_REPORT:-}
SSMAIL=
SMTP_LOAD=

die() { echo "load.sh: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case $1 in
    --quick) MESSAGES=1000 ;;
    --standin) STANDIN=1 ;;
    --rounds) ROUNDS=$2; shift ;;
    --messages) MESSAGES=$2; shift ;;
    --concurrency) CONCURRENCY=$2; shift ;;
    --size) SIZE=$2; shift ;;
    --per-session) PER_SESSION=$2; shift ;;
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
  (cd "$ROOT" && cargo build --release --locked -p ssmail --examples --bins) >&2
fi
SSMAIL=${SSMAIL:-$TARGET_DIR/release/ssmail}
SMTP_LOAD=${SMTP_LOAD:-$TARGET_DIR/release/examples/smtp_load}
[ -x "$SMTP_LOAD" ] || die "no smtp_load binary at $SMTP_LOAD"
if [ "$STANDIN" = 0 ]; then
  [ -x "$SSMAIL" ] || die "no ssmail binary at $SSMAIL"
  "$SSMAIL" gateway --help >/dev/null 2>&1 || die "$SSMAIL has no 'gateway' command (try --standin)"
fi
BUILD_SECS=$((SECONDS - START))

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ssmail-load.XXXXXX")
PIDS=()
cleanup() {
  local pid
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
    if port_free "$p" && [[ " ${USED_PORTS:-} " != *" $p "* ]]; then
      USED_PORTS="${USED_PORTS:-} $p"
      echo "$p"
      return
    fi
  done
  die "no free port"
}
USED_PORTS=
P_SINK=$(pick_port); USED_PORTS="$USED_PORTS $P_SINK"
P_IN=$(pick_port); USED_PORTS="$USED_PORTS $P_IN"
P_OUT=$(pick_port)

# utime+stime of a process, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)

wait_for() { # FILE PATTERN: until a line of FILE matches (10 s)
  for _ in $(seq 100); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "load.sh: timed out waiting for '$2' in $1:" >&2
  cat "$1" >&2
  exit 2
}

if [ "$STANDIN" = 1 ]; then
  MODE=standin
  "$SMTP_LOAD" --forward "127.0.0.1:$P_IN=127.0.0.1:$P_SINK" 2>"$WORK/inbound.log" &
  PID_IN=$!; PIDS+=("$PID_IN")
  "$SMTP_LOAD" --forward "127.0.0.1:$P_OUT=127.0.0.1:$P_IN" 2>"$WORK/outbound.log" &
  PID_OUT=$!; PIDS+=("$PID_OUT")
  wait_for "$WORK/inbound.log" forwarding
  wait_for "$WORK/outbound.log" forwarding
else
  MODE=gateway
  "$SSMAIL" gateway inbound --listen "127.0.0.1:$P_IN" --upstream "127.0.0.1:$P_SINK" \
    --log-format json 2>"$WORK/inbound.log" &
  PID_IN=$!; PIDS+=("$PID_IN")
  "$SSMAIL" gateway outbound --listen "127.0.0.1:$P_OUT" --upstream "127.0.0.1:$P_IN" \
    --log-format json 2>"$WORK/outbound.log" &
  PID_OUT=$!; PIDS+=("$PID_OUT")
  wait_for "$WORK/inbound.log" listening
  wait_for "$WORK/outbound.log" listening
fi
echo "load.sh: $MODE pair up: outbound :$P_OUT (pid $PID_OUT) -> inbound :$P_IN (pid $PID_IN) -> sink :$P_SINK" >&2

session_lines() { # LOGFILE: number of session lines so far
  jq -R 'fromjson? | select(.event == "session")' "$1" 2>/dev/null | jq -s length
}

FAILED=0
RUNS=$WORK/runs.jsonl
: >"$RUNS"

# run KIND LABEL PER_SESSION: one smtp_load run; appends a line to runs.jsonl.
run() {
  local kind=$1 label=$2 per_session=$3
  local to=$P_SINK out=$WORK/$label.json rc=0
  [ "$kind" = B ] && to=$P_OUT
  local in0 out0 logs_in0 logs_out0
  in0=$(cpu_ticks "$PID_IN"); out0=$(cpu_ticks "$PID_OUT")
  logs_in0=$(wc -l <"$WORK/inbound.log"); logs_out0=$(wc -l <"$WORK/outbound.log")
  "$SMTP_LOAD" --sink-listen "127.0.0.1:$P_SINK" --send-to "127.0.0.1:$to" \
    --messages "$MESSAGES" --concurrency "$CONCURRENCY" --size "$SIZE" \
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
  if [ "$kind" = B ] && [ "$MODE" = gateway ]; then
    # Each session is logged when it ends, which may be a moment after the sender saw it close.
    local n_in n_out
    for _ in $(seq 50); do
      n_in=$(tail -n +"$((logs_in0 + 1))" "$WORK/inbound.log" | session_lines /dev/stdin)
      n_out=$(tail -n +"$((logs_out0 + 1))" "$WORK/outbound.log" | session_lines /dev/stdin)
      [ "$n_in" -ge "$sessions" ] && [ "$n_out" -ge "$sessions" ] && break
      sleep 0.1
    done
    sessions_json=$(
      for side in inbound outbound; do
        local from; from=$logs_in0; [ $side = outbound ] && from=$logs_out0
        tail -n +"$((from + 1))" "$WORK/$side.log" |
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
  local in1 out1
  in1=$(cpu_ticks "$PID_IN"); out1=$(cpu_ticks "$PID_OUT")
  jq -c --arg kind "$kind" --argjson rc "$rc" --argjson tck "$TCK" \
    --argjson cin "$((in1 - in0))" --argjson cout "$((out1 - out0))" \
    --argjson logs "$sessions_json" \
    '{kind: $kind, exit: $rc, run: .,
      gateway_cpu_secs: {inbound: ($cin / $tck), outbound: ($cout / $tck)},
      gateway_logs: $logs}' "$out" >>"$RUNS"
}

for r in $(seq "$ROUNDS"); do
  run A "A$r" "$PER_SESSION"
  run B "B$r" "$PER_SESSION"
done
# Correctness only: several messages per session through the pair.
run B multi "$MULTI_PER_SESSION"

RUN_SECS=$((SECONDS - START - BUILD_SECS))

# The report.
REPORT_JSON=$(jq -s --arg mode "$MODE" --argjson messages "$MESSAGES" \
  --argjson concurrency "$CONCURRENCY" --argjson size "$SIZE" --argjson per_session "$PER_SESSION" \
  --argjson rounds "$ROUNDS" --argjson build_secs "$BUILD_SECS" --argjson run_secs "$RUN_SECS" \
  --argjson nproc "$(nproc)" '
  def median: sort | if length == 0 then null
    elif length % 2 == 1 then .[(length - 1) / 2]
    else (.[length / 2 - 1] + .[length / 2]) / 2 end;
  def per_msg(f): (f) * 1e6 / ([.run.accepted, 1] | max);
  . as $all
  | ($all | map(select(.run.label // "" | test("^[AB][0-9]+$")))) as $timed
  | ($timed | map(select(.kind == "A"))) as $a
  | ($timed | map(select(.kind == "B"))) as $b
  | ($a | map(.run.messages_per_sec) | median) as $a_rate
  | ($b | map(.run.messages_per_sec) | median) as $b_rate
  | ($a | map(per_msg(.run.cpu.sink_secs)) | median) as $a_sink_us
  | ($a | map(per_msg(.run.cpu.sender_secs)) | median) as $a_sender_us
  | ($b | map(per_msg(.run.cpu.sink_secs)) | median) as $b_sink_us
  | ($b | map(per_msg(.run.cpu.sender_secs)) | median) as $b_sender_us
  | ($b | map(per_msg(.gateway_cpu_secs.outbound)) | median) as $gw_out_us
  | ($b | map(per_msg(.gateway_cpu_secs.inbound)) | median) as $gw_in_us
  | ($b | map(per_msg(.gateway_cpu_secs.outbound + .gateway_cpu_secs.inbound)) | median) as $gw_us
  | ($all | map(select(.kind == "B") | .gateway_logs | select(. != null))) as $logs
  | {
      mode: $mode, nproc: $nproc, messages_per_run: $messages, concurrency: $concurrency,
      size: $size, per_session: $per_session, rounds: $rounds,
      build_secs: $build_secs, run_secs: $run_secs,
      all_runs_ok: ($all | all(.exit == 0 and .run.ok == true)),
      direct: {
        messages_per_sec: ($a | map(.run.messages_per_sec)),
        median_messages_per_sec: $a_rate,
        median_mb_per_sec: ($a | map(.run.mb_per_sec) | median),
        median_wall_secs: ($a | map(.run.wall_secs) | median),
        median_cpu_us_per_message: {sink: $a_sink_us, sender: $a_sender_us,
                                    sink_and_sender: ($a | map(per_msg(.run.cpu.total_secs)) | median)}
      },
      pair: {
        messages_per_sec: ($b | map(.run.messages_per_sec)),
        median_messages_per_sec: $b_rate,
        median_mb_per_sec: ($b | map(.run.mb_per_sec) | median),
        median_wall_secs: ($b | map(.run.wall_secs) | median),
        median_session_ms_p50: ($b | map(.run.session_ms_p50) | median),
        median_cpu_us_per_message: {sink: $b_sink_us, sender: $b_sender_us,
                                    gateway_outbound: $gw_out_us, gateway_inbound: $gw_in_us,
                                    gateways: $gw_us}
      },
      wall_overhead_pct: (if $a_rate and $b_rate then ($a_rate / $b_rate - 1) * 100 else null end),
      gateway_cpu_vs_sink_pct: (if $a_sink_us and $a_sink_us > 0 then $gw_us / $a_sink_us * 100 else null end),
      gateway_cpu_vs_sink_and_sender_pct:
        (if $a_sink_us and ($a_sink_us + $a_sender_us) > 0
         then $gw_us / ($a_sink_us + $a_sender_us) * 100 else null end),
      multi_session_run: ($all | map(select(.run.label == "multi")) | first
                          | {ok: (.exit == 0 and .run.ok == true), messages: .run.messages,
                             sessions: .run.sessions, per_session: .run.per_session,
                             messages_per_sec: .run.messages_per_sec, gateway_logs: .gateway_logs}),
      xcrypt: (if $mode == "gateway" then {
        sessions_outbound: ($logs | map(.outbound.sessions) | add),
        xcrypt_outbound: ($logs | map(.outbound.xcrypt) | add),
        cache_hit_outbound: ($logs | map(.outbound.cache_hit) | add),
        cache_miss_outbound: ($logs | map(.outbound.cache_miss) | add),
        ok_outbound: ($logs | map(.outbound.ok) | add),
        sessions_inbound: ($logs | map(.inbound.sessions) | add),
        xcrypt_inbound: ($logs | map(.inbound.xcrypt) | add),
        cache_hit_inbound: ($logs | map(.inbound.cache_hit) | add),
        cache_miss_inbound: ($logs | map(.inbound.cache_miss) | add),
        ok_inbound: ($logs | map(.inbound.ok) | add),
        sessions_sent: ($all | map(select(.kind == "B") | .run.sessions) | add)
      } else null end),
      runs: ($all | map({label: .run.label, kind, exit, ok: .run.ok, messages_per_sec: .run.messages_per_sec,
                         wall_secs: .run.wall_secs, sessions: .run.sessions,
                         cpu_secs: .run.cpu, gateway_cpu_secs,
                         lost: .run.verify.lost, duplicated: .run.verify.duplicated,
                         mismatched: .run.verify.mismatched, errors: .run.errors}))
    }' "$RUNS")

# The XCRYPT checks: every session of the pair used XCRYPT and ended ok, on both sides; at most
# one key exchange without a cached key per side (the first of the key's lifetime).
if [ "$MODE" = gateway ]; then
  XC_OK=$(jq '.xcrypt | .sessions_outbound == .sessions_sent and .sessions_inbound == .sessions_sent
              and .xcrypt_outbound == .sessions_sent and .xcrypt_inbound == .sessions_sent
              and .ok_outbound == .sessions_sent and .ok_inbound == .sessions_sent' <<<"$REPORT_JSON")
  if [ "$XC_OK" != true ]; then
    echo "load.sh: FAILED: not every session of the pair was logged, used XCRYPT and ended ok" >&2
    FAILED=1
  fi
  MISSES=$(jq '.xcrypt.cache_miss_outbound' <<<"$REPORT_JSON")
  if [ "$MISSES" != 1 ]; then
    echo "load.sh: note: $MISSES outbound sessions were cache misses (expected 1: the first)" >&2
  fi
fi
[ "$(jq .all_runs_ok <<<"$REPORT_JSON")" = true ] || FAILED=1
REPORT_JSON=$(jq --argjson failed "$FAILED" '. + {ok: ($failed == 0)}' <<<"$REPORT_JSON")

jq -r '
  def f(n): if . == null then "n/a" else (. * pow(10; n) | round) / pow(10; n) | tostring end;
  "load.sh: \(.mode) pair, \(.messages_per_run) messages per run, concurrency \(.concurrency), \(.per_session) per session, ~\(.size) bytes, \(.rounds)+\(.rounds) rounds on \(.nproc) CPUs: \(if .ok then "OK" else "FAILED" end)",
  "  direct  (sender -> sink):        median \(.direct.median_messages_per_sec | f(0)) msg/s  \(.direct.median_mb_per_sec | f(2)) MB/s  runs \(.direct.messages_per_sec | map(f(0)) | join(" "))",
  "  pair    (sender -> out -> in -> sink): median \(.pair.median_messages_per_sec | f(0)) msg/s  \(.pair.median_mb_per_sec | f(2)) MB/s  runs \(.pair.messages_per_sec | map(f(0)) | join(" "))",
  "  wall-time overhead of the pair: \(.wall_overhead_pct | f(1)) %  (everything shares \(.nproc) CPUs: this is not the paper measure)",
  "  CPU per message, direct: sink \(.direct.median_cpu_us_per_message.sink | f(1)) us, sender \(.direct.median_cpu_us_per_message.sender | f(1)) us",
  "  CPU per message, pair:   outbound gw \(.pair.median_cpu_us_per_message.gateway_outbound | f(1)) us, inbound gw \(.pair.median_cpu_us_per_message.gateway_inbound | f(1)) us, sink \(.pair.median_cpu_us_per_message.sink | f(1)) us, sender \(.pair.median_cpu_us_per_message.sender | f(1)) us",
  "  gateways CPU vs the direct sink: \(.gateway_cpu_vs_sink_pct | f(0)) %, vs sink+sender: \(.gateway_cpu_vs_sink_and_sender_pct | f(0)) %  (our sink is a toy, a real MTA costs far more per message)",
  (if .xcrypt then "  XCRYPT: outbound \(.xcrypt.xcrypt_outbound)/\(.xcrypt.sessions_outbound) sessions (cache hit \(.xcrypt.cache_hit_outbound), miss \(.xcrypt.cache_miss_outbound)), inbound \(.xcrypt.xcrypt_inbound)/\(.xcrypt.sessions_inbound) (hit \(.xcrypt.cache_hit_inbound), miss \(.xcrypt.cache_miss_inbound)); sessions sent \(.xcrypt.sessions_sent)" else "  XCRYPT: not checked (stand-in forwarders)" end),
  "  several messages per session (\(.multi_session_run.per_session) each, \(.multi_session_run.sessions) sessions): \(if .multi_session_run.ok then "OK" else "FAILED" end)",
  "  time: build \(.build_secs) s, runs \(.run_secs) s"
' <<<"$REPORT_JSON"

if [ -n "$REPORT" ]; then
  printf '%s\n' "$REPORT_JSON" >"$REPORT"
  echo "load.sh: report written to $REPORT" >&2
fi
exit "$FAILED"
