#!/usr/bin/env bash
# Key rotation under load (issue 16): both sides' key pairs expire while mail flows, and
# no mail is lost and none goes in plaintext.
#   mta/postfix/rotation.sh      (root, after mta/postfix/build.sh; about 100 s)
# Two throwaway instances: rb (smtp_xcrypt_level = may, up to 20 smtp processes, one
# session per message) relays to ra (smtpd_xcrypt_level = may); both keep their keys in
# a cache file with the minimum key lifetime, 60 s. A Python loader hands rb four
# messages a second for 80 s, so the load runs across each side's first lifetime
# boundary (a real rotation, not a forced one). Checks: every message arrives at ra,
# each with XCRYPT in its Received: header; every session on both sides logged
# "XCRYPT connection established"; no exchange fell back to plaintext; and each side
# did at least two Diffie-Hellmans (one per key pair: there is only one peer, so a second
# miss means a rotation) but few (at most 8).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
W=$REPO/target/postfix/rotation
PY=${PYTHON:-python3}
P_RA=${P_RA:-12650}
P_RB=${P_RB:-12651}
SECONDS_OF_LOAD=${SECONDS_OF_LOAD:-80}
# shellcheck source=mta/postfix/lib.sh
. "$HERE/lib.sh"

pf_preflight rotation.sh "Postfix master"
pf_fresh_workdir ra rb
trap 'for i in ra rb; do "$HERE/instance.sh" stop "$W/$i"; done' EXIT

"$HERE/instance.sh" start "$W/ra" --port "$P_RA" --param smtpd_xcrypt_level=may \
  --param smtpd_xcrypt_key_lifetime=60s --param "smtpd_xcrypt_cache_file=$W/ra/data/xcrypt.cache" \
  >/dev/null || exit 1
"$HERE/instance.sh" start "$W/rb" --port "$P_RB" --relayhost "127.0.0.1:$P_RA" \
  --param smtp_xcrypt_level=may --param smtp_xcrypt_key_lifetime=60s \
  --param "smtp_xcrypt_cache_file=$W/rb/data/xcrypt.cache" \
  --param default_destination_concurrency_limit=20 --param initial_destination_concurrency=20 \
  --param smtp_connection_cache_on_demand=no >/dev/null || exit 1

CAN=$$$RANDOM
echo "== load: 4 messages a second into rb for $SECONDS_OF_LOAD s"
"$PY" - "$P_RB" "$CAN" "$SECONDS_OF_LOAD" >"$W/sent.txt" <<'EOF'
import smtplib, sys, threading, time
port, can, duration = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
sent, lock = [], threading.Lock()
def one(n):
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as s:
            s.sendmail(f"rf{n}@src.test", [f"rot{n}-{can}@e2e.test"],
                       f"Subject: rotation {n}\r\n\r\nrotation test message {n}\r\n")
        with lock:
            sent.append(n)
    except Exception as e:
        print(f"message {n}: {e}", file=sys.stderr)
threads, start, n = [], time.monotonic(), 0
while time.monotonic() - start < duration:
    for _ in range(4):
        t = threading.Thread(target=one, args=(n,)); t.start(); threads.append(t); n += 1
    time.sleep(max(0.0, start + n / 4 - time.monotonic()))
[t.join() for t in threads]
print(len(sent))
EOF
sent=$(tail -1 "$W/sent.txt")
arrived() { grep -lx "Delivered-To: rot[0-9]*-$CAN@e2e.test" "$W"/ra/mail/Maildir/new/* 2>/dev/null | wc -l; }
enough() { test "$(arrived)" -ge "$1"; }
wait_until 120 enough "$sent"
echo "     $sent messages handed to rb, $(arrived) arrived at ra"
check "every message handed to rb arrived at ra ($sent, at least $((SECONDS_OF_LOAD * 4 - 4)))" \
  test "$(arrived)" = "$sent" -a "$sent" -ge $((SECONDS_OF_LOAD * 4 - 4))
plain=$(grep -lx "Delivered-To: rot[0-9]*-$CAN@e2e.test" "$W"/ra/mail/Maildir/new/* 2>/dev/null |
  xargs -r grep -L $'^\t(using XCRYPT with cipher t32_1.0)' | wc -l)
check "every one over XCRYPT (Received: header; $plain without)" test "$plain" = 0
est() { grep -c "$1\[[0-9]*\]: XCRYPT connection established .*key cache $2\$" "$3"; }
mb=$(est smtp miss "$W/rb/maillog") hb=$(est smtp hit "$W/rb/maillog")
ma=$(est smtpd miss "$W/ra/maillog") ha=$(est smtpd hit "$W/ra/maillog")
echo "     rb (smtp): $mb miss, $hb hit; ra (smtpd): $ma miss, $ha hit"
check "rb: an XCRYPT session for every message" test $((mb + hb)) = "$sent"
check "ra: an XCRYPT session for every message" test $((ma + ha)) = "$sent"
check "no exchange fell back to plaintext" \
  bash -c "! grep -qE 'XCRYPT to .* failed|plaintext goes on|no common version' '$W/ra/maillog' '$W/rb/maillog'"
check "rb: the key pairs rotated under load (2..8 Diffie-Hellmans: $mb)" test "$mb" -ge 2 -a "$mb" -le 8
check "ra: the key pairs rotated under load (2..8 Diffie-Hellmans: $ma)" test "$ma" -ge 2 -a "$ma" -le 8
echo "== $FAILS failed"
[ $FAILS = 0 ]
