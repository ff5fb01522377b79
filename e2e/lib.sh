# shellcheck shell=bash
# Helpers for the gateway e2e suites (sourced by e2e/gateway.sh and e2e/ops.sh).
#
# Processes are started as direct children of the test shell (start_bg) and stopped by
# PID (stop_pid), so `wait` reaps them and returns their exit status. Postfix daemonizes:
# its master is stopped through DIR/spool/pid/master.pid (postfix_stop).
# Waiting is always polling with a deadline (wait_until), never a fixed sleep.

E2E_PIDS=()        # background children still to stop
E2E_NAMES=()       # their names, same index
E2E_POSTFIX=()     # Postfix instance directories still to stop
E2E_PASS=0
E2E_FAIL=0
E2E_FAILED=()
LAST_PID=
LAST_RC=0     # exit status of the last stop_pid (read by callers)
export LAST_RC

say() { printf '%s\n' "$*"; }
section() { printf '\n--- %s\n' "$*"; }

# pass NAME REASON / fail NAME REASON
pass() {
  E2E_PASS=$((E2E_PASS + 1))
  printf 'PASS %-22s %s\n' "$1" "$2"
}
fail() {
  E2E_FAIL=$((E2E_FAIL + 1))
  E2E_FAILED+=("$1")
  printf 'FAIL %-22s %s\n' "$1" "$2"
}

# check NAME REASON CMD...: run CMD (output to $W/checks/NAME.out); PASS or FAIL on its
# exit status. On FAIL the output is shown, indented; on PASS with E2E_VERBOSE=1 too.
check() {
  local name=$1 reason=$2 rc out
  shift 2
  mkdir -p "$W/checks"
  out="$W/checks/$name.out"
  "$@" >"$out" 2>&1
  rc=$?
  if [ "$rc" = 0 ]; then
    pass "$name" "$reason"
    [ "${E2E_VERBOSE:-0}" = 1 ] && sed 's/^/       | /' "$out"
  else
    fail "$name" "$reason (exit $rc)"
    tail -n 25 "$out" | sed 's/^/       | /'
  fi
  return "$rc"
}

# wait_until SECONDS CMD...: poll CMD every 50 ms until it succeeds; 1 on timeout.
wait_until() {
  local end=$((SECONDS + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -ge "$end" ] && return 1
    sleep 0.05
  done
}

# listening PORT: something listens on 127.0.0.1:PORT (or any address), read from
# /proc/net/tcp so that no connection is made (a probe connection would be a session).
listening() {
  local hex
  hex=$(printf '%04X' "$1")
  awk -v p=":$hex" '$4 == "0A" && substr($2, length($2) - 4) == p { found = 1 } END { exit !found }' \
    /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# wait_listen PORT [SECONDS] [PID]: wait until the port listens; fails early if PID died.
wait_listen() {
  local port=$1 secs=${2:-15} pid=${3:-} end
  end=$((SECONDS + secs))
  until listening "$port"; do
    if [ -n "$pid" ] && ! alive "$pid"; then
      say "process $pid exited before port $port listened" >&2
      return 1
    fi
    if [ "$SECONDS" -ge "$end" ]; then
      say "port $port never listened (${secs}s)" >&2
      return 1
    fi
    sleep 0.05
  done
}

# alive PID: the process exists and is not a zombie.
alive() {
  local state
  [ -r "/proc/$1/stat" ] || return 1
  state=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
  [ -n "$state" ] && [ "$state" != Z ]
}

# start_bg NAME LOGFILE CMD...: start CMD as a direct child, stdout+stderr to LOGFILE.
# Sets LAST_PID. Must not be called in a subshell ($(...)), or the PID is lost.
start_bg() {
  local name=$1 log=$2
  shift 2
  "$@" >"$log" 2>&1 &
  LAST_PID=$!
  E2E_PIDS+=("$LAST_PID")
  E2E_NAMES+=("$name")
}

# stop_pid PID [SIGNAL] [SECONDS]: signal a child, wait up to SECONDS (default 15) for it
# to end, SIGKILL it after that; reap it. LAST_RC = its exit status (137 after SIGKILL).
stop_pid() {
  local pid=$1 sig=${2:-TERM} secs=${3:-15} i
  kill -s "$sig" "$pid" 2>/dev/null
  if ! wait_until "$secs" eval '! alive '"$pid"; then
    say "process $pid did not stop on SIG$sig within ${secs}s; SIGKILL" >&2
    kill -s KILL "$pid" 2>/dev/null
  fi
  wait "$pid" 2>/dev/null
  LAST_RC=$?
  for i in "${!E2E_PIDS[@]}"; do
    if [ "${E2E_PIDS[$i]}" = "$pid" ]; then unset 'E2E_PIDS[i]' 'E2E_NAMES[i]'; fi
  done
  return 0
}

# postfix_instance DIR PORT [RELAY_HOST:PORT]: a throwaway Postfix under DIR on
# 127.0.0.1:PORT. Without RELAY it accepts any recipient from 127.0.0.0/8 and delivers
# into the Maildir DIR/mail/sink/ (as nobody) and offers STARTTLS with a self-signed
# certificate (so the gateway in front has something to take out). With RELAY it sends
# everything to that host:port (no DNS, no TLS), retrying quickly.
postfix_instance() {
  local d=$1 port=$2 relay=${3:-}
  mkdir -p "$d/etc" "$d/spool" "$d/data" "$d/mail"
  chown postfix "$d/data"
  chown nobody:nogroup "$d/mail"
  cat >"$d/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $d/spool
data_directory = $d/data
meta_directory = /etc/postfix
maillog_file = $d/maillog
maillog_file_prefixes = $d
myhostname = pf$port.e2e.test
mydomain = e2e.test
myorigin = \$myhostname
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
alias_maps =
alias_database =
biff = no
smtpd_banner = \$myhostname ESMTP Postfix-e2e
smtp_dns_support_level = disabled
smtp_tls_security_level = none
EOF
  if [ -n "$relay" ]; then
    cat >>"$d/etc/main.cf" <<EOF
smtpd_tls_security_level = none
relayhost = [${relay%:*}]:${relay##*:}
relay_domains =
default_transport = smtp
maximal_queue_lifetime = 5m
bounce_queue_lifetime = 5m
queue_run_delay = 5s
minimal_backoff_time = 5s
maximal_backoff_time = 10s
EOF
  else
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=pf$port.e2e.test" \
      -keyout "$d/etc/key.pem" -out "$d/etc/cert.pem" >/dev/null 2>&1 || return 1
    printf '/./ OK\n' >"$d/etc/any_domain"
    printf '/./ sink/\n' >"$d/etc/any_mailbox"
    cat >>"$d/etc/main.cf" <<EOF
smtpd_tls_security_level = may
smtpd_tls_cert_file = $d/etc/cert.pem
smtpd_tls_key_file = $d/etc/key.pem
virtual_mailbox_domains = regexp:$d/etc/any_domain
virtual_mailbox_maps = regexp:$d/etc/any_mailbox
virtual_mailbox_base = $d/mail
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
virtual_minimum_uid = 100
EOF
  fi
  cat >"$d/etc/master.cf" <<EOF
127.0.0.1:$port inet n - n - - smtpd
pickup    unix  n - n 60    1 pickup
cleanup   unix  n - n -     0 cleanup
qmgr      unix  n - n 300   1 qmgr
tlsmgr    unix  - - n 1000? 1 tlsmgr
rewrite   unix  - - n -     - trivial-rewrite
bounce    unix  - - n -     0 bounce
defer     unix  - - n -     0 bounce
trace     unix  - - n -     0 bounce
verify    unix  - - n -     1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n -     - proxymap
smtp      unix  - - n -     - smtp
relay     unix  - - n -     - smtp
showq     unix  n - n -     - showq
error     unix  - - n -     - error
retry     unix  - - n -     - error
discard   unix  - - n -     - discard
virtual   unix  - n n -     - virtual
anvil     unix  - - n -     1 anvil
scache    unix  - - n -     1 scache
postlog   unix-dgram n - n - 1 postlogd
EOF
  postfix -c "$d/etc" check
}

# postfix_start DIR PORT: start the instance and wait for its port.
postfix_start() {
  local d=$1 port=$2
  E2E_POSTFIX+=("$d")
  if ! postfix -c "$d/etc" start >"$d/start.log" 2>&1; then
    say "postfix start failed for $d (see $d/maillog)" >&2
    return 1
  fi
  wait_listen "$port" 15
}

# postfix_stop DIR: SIGTERM the master from its pid file; wait until it is gone.
postfix_stop() {
  local d=$1 pid i
  for i in "${!E2E_POSTFIX[@]}"; do
    if [ "${E2E_POSTFIX[$i]}" = "$d" ]; then unset 'E2E_POSTFIX[i]'; fi
  done
  [ -s "$d/spool/pid/master.pid" ] || return 0
  pid=$(tr -d ' \n' <"$d/spool/pid/master.pid")
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  wait_until 10 eval '! alive '"$pid" || say "postfix master $pid still running" >&2
}

# e2e_cleanup: stop whatever is still running; keep the work dir when something failed.
e2e_cleanup() {
  local rc=$? i
  trap - EXIT
  for i in "${!E2E_PIDS[@]}"; do
    kill -s TERM "${E2E_PIDS[$i]}" 2>/dev/null
  done
  for i in "${!E2E_PIDS[@]}"; do
    stop_pid "${E2E_PIDS[$i]}" TERM 5
  done
  for i in "${!E2E_POSTFIX[@]}"; do
    postfix_stop "${E2E_POSTFIX[$i]}"
  done
  if [ "$rc" != 0 ] || [ "$E2E_FAIL" != 0 ] || [ "${E2E_KEEP:-0}" = 1 ]; then
    say "work dir kept: $W"
  elif [ -n "${W:-}" ] && [ -d "$W" ]; then
    rm -rf "$W"
  fi
  exit "$rc"
}

# ---------------------------------------------------------------- start-up and summary
# What every suite here does before its first check and after its last (gateway.sh,
# ops.sh): one copy, so that the suites agree on where the binary and the work dir come
# from and on what a run prints at the end.

# e2e_root_and_tools SCRIPT WHY: exit 2 unless root; install the suite's tools
# (e2e/install.sh); set PY to the real interpreter, not a wrapper (pyenv shims fork, and
# $! must be the server itself).
e2e_root_and_tools() {
  if [ "$(id -u)" != 0 ]; then
    say "$1 must run as root ($2)" >&2
    exit 2
  fi
  bash "$HERE/install.sh" >/dev/null || { say "e2e/install.sh failed" >&2; exit 2; }
  # shellcheck disable=SC2034 # read by the suites that source this file
  PY=$(python3 -c 'import sys; print(sys.executable)')
}

# e2e_ssmail_bin WHAT SUBCOMMAND...: set BIN to the release ssmail ($SSMAIL_BIN, else
# ${CARGO_TARGET_DIR:-target}/release/ssmail, relative paths from the repo root) and
# exit 1 unless `BIN SUBCOMMAND... --help` works; WHAT names the subcommand in the message.
e2e_ssmail_bin() {
  local what=$1
  shift
  BIN=${SSMAIL_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/release/ssmail}
  case $BIN in /*) ;; *) BIN="$ROOT/$BIN" ;; esac
  if [ ! -x "$BIN" ] || ! "$BIN" "$@" --help >/dev/null 2>&1; then
    say "FAIL setup: no ssmail with $what at $BIN (cargo build --release --locked -p ssmail)"
    exit 1
  fi
}

# e2e_workdir PREFIX: W = a new work dir /tmp/PREFIX.XXXXXX, removed by e2e_cleanup at
# exit (kept when something failed).
e2e_workdir() {
  W=$(mktemp -d "/tmp/$1.XXXXXX")
  trap e2e_cleanup EXIT
  trap 'say "interrupted"; exit 130' INT TERM
  say "work dir: $W"
}

# e2e_ports_free VAR PORT...: exit 1 when any PORT is already listened on (VAR: the
# environment variable that moves the suite's ports, named in the message).
e2e_ports_free() {
  local var=$1 p
  shift
  for p in "$@"; do
    if listening "$p"; then
      say "FAIL setup: port $p is already in use (set $var)"
      exit 1
    fi
  done
}

# stop_gateways PID...: SIGTERM them all at once, then reap each (stop_pid); fails when
# any did not exit 0 (a gateway ends cleanly on SIGTERM).
stop_gateways() {
  local rc=0 p
  for p in "$@"; do kill -TERM "$p" 2>/dev/null; done
  for p in "$@"; do
    stop_pid "$p" TERM 10
    [ "$LAST_RC" = 0 ] || { say "gateway $p exited $LAST_RC"; rc=1; }
  done
  return "$rc"
}

# e2e_summary: the counts and the time since T0; exit 1 when any check failed, else 0.
e2e_summary() {
  section "summary"
  say "$E2E_PASS passed, $E2E_FAIL failed, $((SECONDS - T0))s"
  if [ "$E2E_FAIL" != 0 ]; then
    say "failed: ${E2E_FAILED[*]}"
    exit 1
  fi
  exit 0
}

# panic_check NAME: FAIL NAME when any gateway log ($W/gw-*.log) shows a panic.
panic_check() {
  grep -hiE 'panic|thread .* panicked' "$W"/gw-*.log && fail "$1" "a gateway panicked"
}
