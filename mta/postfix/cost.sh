#!/usr/bin/env bash
# The paper's claim, side by side in one run (issue 16): CPU per message of a sending and a
# receiving Postfix instance, plain / XCRYPT / STARTTLS (TLS 1.3) / behind our gateway
# pair, 2 KB and 64 KB messages, 1 and 20 messages per session. mta/postfix/README.md,
# "The paper's claim", says how it counts and what it found.
#   mta/postfix/cost.sh [--quick] [--no-build] [cost.py options: --messages N --reps N
#                       --json PATH --keep --accounting auto|cgroup-v2|cgroup-v1|proc
#                       --tree NAME=PATH (then CONFIG@NAME in --configs) ...]
# --quick (CI): 40 messages per run, one run per cell; fails on lost mail or a
# configuration not in effect (XCRYPT/TLS 1.3/gateways on every session), not on ratios.
# Needs root, the Postfix built by mta/postfix/build.sh, and (for the gateway pair)
# target/release/ssmail, built here unless --no-build. openssl and python3.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=1
args=()
for a in "$@"; do
  case $a in
  --no-build) build=0 ;;
  -h | --help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; python3 mta/postfix/cost.py --help; exit 0 ;;
  *) args+=("$a") ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "cost.sh: needs root" >&2; exit 2; }
[ -x target/postfix/build/postfix-3.7.11/libexec/master ] ||
  { echo "cost.sh: run mta/postfix/build.sh first" >&2; exit 2; }
if [ "$build" = 1 ]; then
  cargo build --release --locked -p ssmail --bin ssmail >&2
fi
# instance.sh runs the daemons as the system's postfix user, postdrop as the setgid group.
id postfix >/dev/null 2>&1 && getent group postdrop >/dev/null ||
  { echo "cost.sh: needs the postfix user and postdrop group (apt-get install postfix, or useradd/groupadd)" >&2; exit 2; }
for t in openssl python3; do
  command -v "$t" >/dev/null || { echo "cost.sh: $t is needed" >&2; exit 2; }
done
echo "cost.sh: $(uptime)" >&2
exec python3 mta/postfix/cost.py "${args[@]}"
