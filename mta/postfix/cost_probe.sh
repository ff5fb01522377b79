#!/usr/bin/env bash
# Where a configuration's CPU goes (issue 16), one sender/receiver pair at a time, with a
# tool attached to the live daemons during the run (cost.sh measures; this explains):
#   mta/postfix/cost_probe.sh CONFIG TOOL [MESSAGES [SIZE]]
# CONFIG: plain | xcrypt (cache files, as cost.sh's) | xcrypt-mem. TOOL: none | perf
# (perf record -g, all daemons) | strace (strace -f -T of the receiver's smtpd and the
# sender's smtp, one line per system call) | strace-c (strace -c -f, all daemons) |
# tcpdump (the sender-to-receiver hop on lo). One message per session, 10 loader
# sessions at a time (smtp-source -s 10), 4 deliveries at a time to the receiver; a
# 40-message warm-up first; max_use = 100000 so that the daemons live through the run
# and every one of them is traced. Prints the wall time and, from /proc/PID/schedstat,
# µs of CPU per message per side (R receiver, S sender) and process type. The tools'
# output stays in target/postfix/probe/CONFIG/ (perf.data, strace.txt, lo.pcap).
# PROBE_MPS=20: 20 messages per session instead (smtp-source -d, the sender's connection
# cache on for the receiver, reuse limit 20, as cost.sh's 20-per-session cells).
# Ports: PROBE_PORT (receiver, default 14660) and PROBE_PORT + 1 (sender).
# POSTFIX_TREE picks another build tree (as for instance.sh). Needs root.
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
tree=${POSTFIX_TREE:-$repo/target/postfix/build/postfix-3.7.11}
export POSTFIX_TREE=$tree
[ $# -ge 2 ] || { sed -n 3,4p "$0" >&2; exit 2; }
cfg=$1 tool=$2 msgs=${3:-200} size=${4:-65536}
rp=${PROBE_PORT:-14660}
mps=${PROBE_MPS:-1}
case $mps in
1) reuse=(--param smtp_connection_cache_on_demand=no) ;;
20) reuse=(--param smtp_connection_cache_destinations=127.0.0.1 --param smtp_connection_reuse_count_limit=20) ;;
*) echo "cost_probe.sh: PROBE_MPS is 1 or 20" >&2; exit 2 ;;
esac
sp=$((rp + 1))
W=$repo/target/postfix/probe/$cfg
rm -rf "$W"
mkdir -p "$W"
both=(--param max_use=100000 --param max_idle=300)
case $cfg in
plain) rx=() sx=() ;;
xcrypt-mem)
  rx=(--param smtpd_xcrypt_level=may --param smtp_xcrypt_level=may)
  sx=("${rx[@]}")
  ;;
xcrypt)
  rx=(--param smtpd_xcrypt_level=may --param smtp_xcrypt_level=may
    --param "smtpd_xcrypt_cache_file=$W/R/data/xcrypt-smtpd.cache"
    --param "smtp_xcrypt_cache_file=$W/R/data/xcrypt-smtp.cache")
  sx=(--param smtpd_xcrypt_level=may --param smtp_xcrypt_level=may
    --param "smtpd_xcrypt_cache_file=$W/S/data/xcrypt-smtpd.cache"
    --param "smtp_xcrypt_cache_file=$W/S/data/xcrypt-smtp.cache")
  ;;
*) echo "cost_probe.sh: unknown configuration $cfg" >&2; exit 2 ;;
esac
inst=$repo/mta/postfix/instance.sh
bash "$inst" start "$W/R" --port "$rp" "${both[@]}" "${rx[@]}" >/dev/null || exit 1
bash "$inst" start "$W/S" --port "$sp" --relayhost "127.0.0.1:$rp" "${both[@]}" "${sx[@]}" \
  --param smtp_destination_concurrency_limit=4 "${reuse[@]}" >/dev/null || exit 1
trap 'bash "$inst" stop "$W/S"; bash "$inst" stop "$W/R"' EXIT
md=$W/R/mail/Maildir/new
arrived() {
  for _ in $(seq 1200); do
    [ "$(find "$md" -type f 2>/dev/null | wc -l)" -ge "$1" ] && break
    sleep 0.1
  done
  sleep 1.5 # the sessions' ends and the log lines
}
load() {
  local shape=(-s 10)
  [ "$mps" = 20 ] && shape=(-d -s $(($1 / 20 > 0 ? $1 / 20 : 1)))
  "$tree/bin/smtp-source" -l "$2" -m "$1" "${shape[@]}" -f loader@load.test -t rcpt@dest.test \
    -M loader.test "127.0.0.1:$sp"
}
load 40 "$size"
arrived 40
master() { tr -d ' \n' <"$W/$1/queue/pid/master.pid"; }
declare -A side before
pids=()
for s in R S; do
  for p in $(pgrep -P "$(master $s)"); do
    side[$p]=$s.$(cat "/proc/$p/comm")
    before[$p]=$(cut -d' ' -f1 "/proc/$p/schedstat")
    pids+=("$p")
  done
done
all=$(
  IFS=,
  echo "${pids[*]}"
)
tp=
case $tool in
none) ;;
perf) perf record -q -g -F 4000 -o "$W/perf.data" -p "$all" 2>/dev/null & tp=$! ;;
strace)
  sel=()
  for p in "${pids[@]}"; do
    case ${side[$p]} in R.smtpd | S.smtp) sel+=(-p "$p") ;; esac
  done
  strace -f -tt -T -o "$W/strace.txt" "${sel[@]}" 2>/dev/null & tp=$!
  ;;
strace-c)
  sel=()
  for p in "${pids[@]}"; do sel+=(-p "$p"); done
  strace -c -f -o "$W/strace.txt" "${sel[@]}" 2>/dev/null & tp=$!
  ;;
tcpdump) tcpdump -i lo -s 200 -w "$W/lo.pcap" "tcp port $rp" 2>/dev/null & tp=$! ;;
*) echo "cost_probe.sh: unknown tool $tool" >&2; exit 2 ;;
esac
[ -n "$tp" ] && sleep 1
rm -f "$md"/*
t0=$(date +%s%N)
load "$msgs" "$size"
arrived "$msgs"
t1=$(date +%s%N)
[ -n "$tp" ] && { kill -INT "$tp"; wait "$tp"; }
echo "$cfg: $(find "$md" -type f | wc -l) of $msgs messages of $size bytes in $(((t1 - t0) / 1000000)) ms" \
  "(the last 1500 ms waiting); XCRYPT sessions at the receiver (with the warm-up):" \
  "$(grep -c 'XCRYPT connection established' "$W/R/maillog")"
declare -A ns
for p in "${pids[@]}"; do
  now=$(cut -d' ' -f1 "/proc/$p/schedstat" 2>/dev/null || echo "${before[$p]}")
  ns[${side[$p]}]=$((${ns[${side[$p]}]:-0} + now - ${before[$p]}))
done
for k in "${!ns[@]}"; do echo "  $k $((ns[$k] / 1000 / msgs)) µs/message"; done | sort
