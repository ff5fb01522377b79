#!/usr/bin/env bash
# End-to-end test of the patched Postfix smtpd (mta/postfix/xcrypt.patch).
#   mta/postfix/e2e.sh        (root, after mta/postfix/build.sh; about 2 min)
# Starts throwaway instances (instance.sh): x with smtpd_xcrypt_level = may, s with the
# defaults (must behave as stock Postfix), c and m for the key cache, r t u v y for the
# sending side, k j p fm fe d for sections 10-13, and checks:
#   1. XCRYPT sessions from xcrypt_client.py (arrsyfor_1.0 with a Python RC4 and
#      t32_1.0 with libssmail's cipher; DH, KDF and the dialogue are the client's own)
#      deliver byte-identical bodies; the log line and the Received: header name the
#      cipher; a plain smtplib session still delivers.
#   2. tcpdump on lo: the handshake is visible, and after the switch points neither the
#      envelope addresses nor the body canaries are (e2e/pcapcheck.py --after-switch).
#   3. The spec's answers: XCRYPT inside a transaction and pipelined XCRYPT get 503 and
#      the bytes behind are discarded; an unoffered version gets 504. A client that walks
#      away mid-exchange (another command, or a hang-up) leaves Postfix serving; bad XCRYPT
#      lines count towards smtpd_hard_error_limit (421).
#   4. Defaults: no XCRYPT in the EHLO reply, XCRYPT is an unknown command (500).
#   5. One key pair per server: with smtpd_xcrypt_cache_file, two sessions in two smtpd
#      processes (max_use = 1) see the same server key; without it they do not.
#      smtpd_xcrypt_versions narrows the offer (504 for the others).
#   6. If target/release/ssmail (or $SSMAIL_BIN) exists: smtplib -> ssmail gateway
#      outbound --require-xcrypt -> patched smtpd, and patched smtp -> ssmail gateway
#      inbound -> stock-default smtpd, both with t32_1.0, then both again with gateways
#      that run arrsyfor_1.0 only; else "skip 6".
#   7. Patched smtp -> patched smtpd (1 KB, ~74 KB with dot lines; wire checked) and
#      patched smtp -> stock-default smtpd (plain).
#   8. smtp_xcrypt_level = encrypt defers towards a server without XCRYPT and delivers
#      once it offers XCRYPT.
#   9. A 10 MB message, patched smtp -> patched smtpd, arrives byte-identical.
#  10. 200 sessions from up to 20 concurrent smtp processes (cache file) to one smtpd
#      pool (cache file): exactly one "key cache miss" per side, 199 hits.
#  11. smtp_xcrypt_policy_maps: encrypt and none per next hop override the level.
#  12. Misbehaving servers (fake_server.py): bad public key, 454 refusal -> plaintext
#      with may, deferred with encrypt; plaintext behind 250 XCRYPT OK -> discarded.
#      One cache file for smtpd and smtp: the smtp side sends the smtpd side's key.
#      LMTP: lmtp_xcrypt_level = may encrypts, unset it stays plaintext;
#      lmtp_xcrypt_policy_maps alone (encrypt for the next hop) encrypts.
#      A server that hangs up on the XCRYPT start, or after its key when the client's
#      XCRYPT OK arrives: with may the mail is deferred once, then retried in plaintext
#      and delivered; with encrypt it stays deferred. One that never answers the start:
#      with may, timed out, deferred, then retried in plaintext and delivered.
#  13. xcrypt in smtpd_/smtp_discard_ehlo_keywords.
#  14. XCRYPT connections in the connection cache: 30 messages from cs to cr over a few
#      sessions, each taken up again by whichever smtp process (the ciphers saved into
#      the endpoint properties and restored); all arrive byte-identical, each hop
#      XCRYPT'd, and the wire after the switch points carries no plaintext.
#  15. smtpd and smtp chrooted into the queue directory (Debian's master.cf does): cache
#      files named inside the chroot, one Diffie-Hellman per side for three sessions.
#  16. A cached plaintext connection is not reused once smtp_xcrypt_level = encrypt:
#      refused at activation, and the mail deferred, not sent in plaintext.
#  17. XCLIENT after XCRYPT (a proxy in front of smtpd): the session stays encrypted,
#      with no second offer and a second XCRYPT refused, and the mail arrives with the
#      XCLIENT client's name and XCRYPT in its Received: header.
# Key rotation under load is rotation.sh (it needs more than the 60 s lifetime).
# Exit 0 when every check passed.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
W=$REPO/target/postfix/e2e
LIB=$REPO/target/postfix/libssmail/lib/libssmail.so
PY=${PYTHON:-python3}
P_X=${P_X:-12625}   # XCRYPT instance
P_S=${P_S:-12626}   # stock-default instance
P_C=${P_C:-12627}   # one session per smtpd process, key cache file, t32_1.0 only
P_M=${P_M:-12628}   # one session per smtpd process, memory-only keys
P_G=${P_G:-12629}   # ssmail gateway outbound in front of instance x
P_R=${P_R:-12630}   # smtp_xcrypt_level = may, relaying everything to x
P_T=${P_T:-12631}   # smtp_xcrypt_level = may, relaying everything to s (no XCRYPT there)
P_U=${P_U:-12632}   # smtp_xcrypt_level = encrypt, relaying everything to v
P_V=${P_V:-12633}   # starts with the defaults (no XCRYPT), then turns it on
P_GI=${P_GI:-12634} # ssmail gateway inbound in front of s
P_Y=${P_Y:-12635}   # smtp_xcrypt_level = may, relaying everything to the inbound gateway
P_K=${P_K:-12636}   # the key cache test's receiving pool (cache file)
P_J=${P_J:-12637}   # the key cache test's sender: 20 concurrent smtp, cache file, to k
P_P=${P_P:-12638}   # smtp_xcrypt_policy_maps: encrypt towards x and s, none towards c
P_FB=${P_FB:-12639} # fake_server.py badkey
P_FR=${P_FR:-12640} # fake_server.py refuse
P_FI=${P_FI:-12641} # fake_server.py inject
P_FM=${P_FM:-12642} # smtp_xcrypt_level = may towards the fake servers
P_FE=${P_FE:-12643} # smtp_xcrypt_level = encrypt towards the fake servers
P_D=${P_D:-12644}   # XCRYPT on, but in smtpd_ and smtp_discard_ehlo_keywords; relays to x
P_FH=${P_FH:-12645} # fake_server.py hangup
P_FL=${P_FL:-12646} # lmtp_xcrypt_policy_maps only (lmtp_xcrypt_level unset) towards the fakes
P_FK=${P_FK:-12647} # fake_server.py hangupkey
P_FS=${P_FS:-12648} # fake_server.py stall
P_FT=${P_FT:-12649} # smtp_xcrypt_level = may, smtp_helo_timeout = 3s, towards the staller
P_CR=${P_CR:-12650} # section 14's receiver (XCRYPT may)
P_CS=${P_CS:-12651} # section 14's sender: XCRYPT may, connection cache on, relays to cr
P_HR=${P_HR:-12652} # section 15's receiver: chrooted smtpd, cache file inside the chroot
P_HS=${P_HS:-12653} # section 15's sender: chrooted smtp, cache file inside the chroot
P_ES=${P_ES:-12654} # section 16's sender: may, then encrypt, towards s; connection cache on
P_XC=${P_XC:-12655} # section 17's receiver: XCRYPT may, XCLIENT from 127.0.0.1
INSTANCES="x s c m r t u v y k j p fm fe fl ft d cr cs hr hs es xc"
FAKES=
SSMAIL=${SSMAIL_BIN:-$REPO/target/release/ssmail}
# shellcheck source=mta/postfix/lib.sh
. "$HERE/lib.sh"

pf_preflight e2e.sh "Postfix master, tcpdump"
command -v tcpdump >/dev/null || apt-get install -y -q tcpdump >/dev/null

# shellcheck disable=SC2086 # the instance names are words
pf_fresh_workdir $INSTANCES
cleanup() {
  [ -n "${TCPDUMP:-}" ] && kill "$TCPDUMP" 2>/dev/null
  [ -n "${GATEWAY:-}" ] && kill "$GATEWAY" 2>/dev/null
  for pid in $FAKES; do kill "$pid" 2>/dev/null; done
  for i in $INSTANCES; do "$HERE/instance.sh" stop "$W/$i"; done
}
trap cleanup EXIT

# A throwaway self-signed certificate, so that STARTTLS is on offer beside XCRYPT.
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=mx.e2e.test -days 2 \
  -keyout "$W/tls.key" -out "$W/tls.crt" >/dev/null 2>&1 || bad "openssl: no test certificate"
# A hard error limit of 5 (below the soft limit, so no error sleeps) for section 3's
# session that keeps sending bad XCRYPT lines.
"$HERE/instance.sh" start "$W/x" --port "$P_X" --param smtpd_xcrypt_level=may \
  --param smtpd_tls_security_level=may --param "smtpd_tls_cert_file=$W/tls.crt" \
  --param "smtpd_tls_key_file=$W/tls.key" --param smtpd_hard_error_limit=5 || exit 1
"$HERE/instance.sh" start "$W/s" --port "$P_S" || exit 1
"$HERE/instance.sh" start "$W/c" --port "$P_C" --param smtpd_xcrypt_level=may --param max_use=1 \
  --param "smtpd_xcrypt_cache_file=$W/c/data/xcrypt.cache" --param smtpd_xcrypt_versions=t32_1.0 || exit 1
"$HERE/instance.sh" start "$W/m" --port "$P_M" --param smtpd_xcrypt_level=may --param max_use=1 || exit 1
"$HERE/instance.sh" start "$W/r" --port "$P_R" --relayhost "127.0.0.1:$P_X" --param smtp_xcrypt_level=may || exit 1
"$HERE/instance.sh" start "$W/t" --port "$P_T" --relayhost "127.0.0.1:$P_S" --param smtp_xcrypt_level=may || exit 1
"$HERE/instance.sh" start "$W/u" --port "$P_U" --relayhost "127.0.0.1:$P_V" --param smtp_xcrypt_level=encrypt || exit 1
"$HERE/instance.sh" start "$W/v" --port "$P_V" || exit 1

# capture_start PCAP LOG FAILURE [PORT]: tcpdump on lo, the ports of s and of x (or
# PORT), into PCAP (its messages to LOG); bad FAILURE when it does not start listening
# within 10 s.
capture_start() {
  tcpdump -i lo -n -s 65600 -B 65536 -U --immediate-mode -Z root -w "$1" \
    "tcp port ${4:-$P_X} or tcp port $P_S" >"$2" 2>&1 &
  TCPDUMP=$!
  wait_until 10 grep -q 'listening on' "$2" || bad "$3"
}
# capture_end PCAP TAG FAILURE: a last plaintext session to s carrying TAG, as a
# sentinel (once it is in PCAP, everything before it is too; bad FAILURE when it is not
# within 10 s), then tcpdump is stopped.
capture_end() {
  "$PY" - "$P_S" "$2" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
f = s.makefile("rb"); f.readline()
s.sendall(b"NOOP " + sys.argv[2].encode() + b"\r\n"); f.readline()
s.sendall(b"QUIT\r\n"); f.readline()
EOF
  wait_until 10 grep -qaF "$2" "$1" || bad "$3"
  kill -INT "$TCPDUMP"
  wait "$TCPDUMP" 2>/dev/null
  TCPDUMP=
}
capture_start "$W/lo.pcap" "$W/tcpdump.log" "tcpdump did not start"
# smtp_probe PORT [ARG...] < PYTHON: runs PYTHON (its sys.argv[1:] = PORT ARG...) after a
# prelude that connects to 127.0.0.1:PORT (timeout $PROBE_TIMEOUT s, default 10), reads
# the greeting and defines cmd(BYTES) -> the reply's lines, CRLF taken off.
smtp_probe() {
  local prelude
  prelude=$(cat <<'EOF'
import os, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])),
                             timeout=float(os.environ.get("PROBE_TIMEOUT", "10")))
f = s.makefile("rb"); f.readline()
def cmd(b):
    s.sendall(b); lines = []
    while True:
        l = f.readline().decode().rstrip("\r\n"); lines.append(l)
        if len(l) < 4 or l[3] != "-": return lines
EOF
)
  "$PY" -c "$prelude
$(cat)" "$@"
}

# Messages: a header and a body canary, dot lines, and enough lines to span segments.
CAN=$$$RANDOM
mkmsg() { # mkmsg FILE TAG
  {
    printf 'From: sender@src.test\r\nSubject: hdr%s%s\r\n\r\n' "$2" "$CAN"
    printf 'body%s%s\r\n' "$2" "$CAN"
    printf '.a line that needs dot-stuffing\r\n..two dots\r\n'
    for i in $(seq 2000); do printf 'line %04d of the e2e message, %s\r\n' "$i" "$2"; done
    printf 'last line %s\r\n' "$2"
  } >"$1"
}
mkmsg "$W/rc4.eml" rc4
mkmsg "$W/t32.eml" t32
mkmsg "$W/plain.eml" plain

echo "== 1. delivery"
check "1.rc4 XCRYPT arrsyfor_1.0 session (Python RC4)" \
  "$PY" "$HERE/xcrypt_client.py" "$P_X" arrsyfor_1.0 "rc4from$CAN@src.test" "rc4to$CAN@e2e.test" "$W/rc4.eml"
check "1.t32 XCRYPT t32_1.0 session (libssmail cipher)" \
  "$PY" "$HERE/xcrypt_client.py" "$P_X" t32_1.0 "t32from$CAN@src.test" "t32to$CAN@e2e.test" "$W/t32.eml" --libssmail "$LIB"

# The capture ends here. The sentinel session goes to the other instance (pcapcheck
# looks at port $P_X only).
capture_end "$W/lo.pcap" "sentinel$CAN" "2. tcpdump did not write the sentinel"

delivered_at() { # delivered_at INSTANCE ADDRESS -> path of a file delivered to ADDRESS there
  grep -lx "Delivered-To: $2" "$W/$1"/mail/Maildir/new/* 2>/dev/null | head -1
}
delivered() { delivered_at x "$1@e2e.test"; } # delivered USER: to USER@e2e.test at x
# (Functions, so that wait_until evaluates them on every try.)
has_delivered_at() { test -n "$(delivered_at "$1" "$2")"; }
has_delivered() { has_delivered_at x "$1@e2e.test"; }
# xcrypt_received FILE: FILE (a delivered message) is non-empty and the Received: header
# that mx.e2e.test wrote says t32_1.0 carried it.
xcrypt_received() { [ -n "$1" ] && grep -A1 '^Received: from mx.e2e.test' "$1" | grep -q $'^\t(using XCRYPT with cipher t32_1.0)'; }
body_same() { # body_same SENT DELIVERED: the bodies (after the first empty line) match
  "$PY" - "$1" "$2" <<'EOF'
import sys
sent = open(sys.argv[1], "rb").read().replace(b"\r\n", b"\n").split(b"\n\n", 1)[1]
got = open(sys.argv[2], "rb").read().split(b"\n\n", 1)[1]
sys.exit(0 if sent == got else 1)
EOF
}
# After the XCRYPT sessions, outside the capture (--after-switch fails any unencrypted
# session it sees).
check "1.plain smtplib without XCRYPT still delivers" \
  "$PY" "$REPO/e2e/pyclient.py" smtplib "$P_X" "plainfrom$CAN@src.test" "plainto$CAN@e2e.test" "$W/plain.eml"
for t in rc4 t32 plain; do
  if wait_until 20 has_delivered "${t}to$CAN"; then
    f=$(delivered "${t}to$CAN")
    check "1.$t body arrived byte-identical" body_same "$W/$t.eml" "$f"
  else
    bad "1.$t not delivered within 20 s"
  fi
done
f=$(delivered "rc4to$CAN")
check "1.rc4 Received: header names XCRYPT arrsyfor_1.0" grep -q $'^\t(using XCRYPT with cipher arrsyfor_1.0)' "$f"
f=$(delivered "t32to$CAN")
check "1.t32 Received: header names XCRYPT t32_1.0" grep -q $'^\t(using XCRYPT with cipher t32_1.0)' "$f"
f=$(delivered "plainto$CAN")
check "1.plain Received: header does not name XCRYPT" bash -c "[ -f '$f' ] && ! grep -q XCRYPT '$f'"
log=$W/x/maillog
# xcrypt_client.py makes a new key pair per session: a new peer, so a Diffie-Hellman.
check "1.log: XCRYPT connection established ... arrsyfor_1.0, key cache miss" \
  grep -q 'smtpd\[[0-9]*\]: XCRYPT connection established from localhost\[127.0.0.1\]: arrsyfor_1.0, key cache miss$' "$log"
check "1.log: XCRYPT connection established ... t32_1.0, key cache miss" \
  grep -q 'smtpd\[[0-9]*\]: XCRYPT connection established from localhost\[127.0.0.1\]: t32_1.0, key cache miss$' "$log"

echo "== 2. the wire"
grep -E 'captured|dropped' "$W/tcpdump.log" | sed 's/^/     /'
check "2.handshake visible (XCRYPT OK, 250 XCRYPT OK in the capture)" \
  "$PY" "$REPO/e2e/pcapcheck.py" "$W/lo.pcap" --port "$P_X" --present "XCRYPT OK" --present "250 XCRYPT OK"
check "2.control: the search finds the plaintext EHLO sent before the switch" \
  bash -c "! '$PY' '$REPO/e2e/pcapcheck.py' '$W/lo.pcap' --port '$P_X' --absent 'EHLO client.e2e.test'"
check "2.no envelope address nor canary after the switch points" \
  "$PY" "$REPO/e2e/pcapcheck.py" "$W/lo.pcap" --port "$P_X" --after-switch \
  --absent "rc4from$CAN" --absent "rc4to$CAN" --absent "bodyrc4$CAN" --absent "hdrrc4$CAN" \
  --absent "t32from$CAN" --absent "t32to$CAN" --absent "bodyt32$CAN" --absent "hdrt32$CAN" \
  --absent "MAIL FROM" --absent "line 1000 of"

echo "== 3. the spec's answers"
"$PY" - "$P_X" >"$W/probes.log" 2>&1 <<'EOF'
import secrets, socket, sys
P = int("FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22"
        "514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6"
        "F44C42E9A63A3620FFFFFFFFFFFFFFFF", 16)
port = int(sys.argv[1])
def start(version="t32_1.0"):
    ka = pow(2, 2 + secrets.randbelow(P - 3), P)
    return f"XCRYPT {version} {ka:0192x} {secrets.token_hex(10)}\r\n".encode()
class S:
    def __init__(self):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.f = self.s.makefile("rb"); self.reply()
    def reply(self):
        lines = []
        while True:
            l = self.f.readline().decode().rstrip("\r\n"); lines.append(l)
            if len(l) < 4 or l[3] != "-": return lines
    def cmd(self, b):
        self.s.sendall(b); return self.reply()
fails = 0
def want(name, lines, prefix):
    global fails
    good = lines[-1].startswith(prefix)
    print(("ok   " if good else "FAIL ") + f"3.{name}: {lines[-1][:60]!r}")
    fails += not good
s = S(); s.cmd(b"EHLO probe.test\r\n"); s.cmd(b"MAIL FROM:<a@src.test>\r\n")
want("XCRYPT inside a transaction -> 503", s.cmd(start()), "503")
s = S(); s.cmd(b"EHLO probe.test\r\n")
want("pipelined XCRYPT -> 503", s.cmd(start() + b"NOOP\r\n"), "503")
want("the NOOP behind it was discarded (the next reply is QUIT's)", s.cmd(b"QUIT\r\n"), "221")
s = S()
want("XCRYPT before EHLO -> 503", s.cmd(start()), "503")
s = S(); s.cmd(b"HELO probe.test\r\n")
want("XCRYPT after HELO -> 503", s.cmd(start()), "503")
s = S(); s.cmd(b"EHLO probe.test\r\n")
want("bad public key -> 501", s.cmd(b"XCRYPT t32_1.0 " + b"0" * 192 + b" " + b"1" * 20 + b"\r\n"), "501")
want("server goes on in plaintext", s.cmd(b"NOOP\r\n"), "250")
s = S(); s.cmd(b"EHLO probe.test\r\n")
want("unknown version -> 504", s.cmd(start("foo_1.0")), "504")
s = S(); s.cmd(b"EHLO probe.test\r\n")
want("XCRYPT OK out of turn -> 503", s.cmd(b"XCRYPT OK\r\n"), "503")
for n in (600, 3000):  # over 512 octets; 3000 is also over Postfix's line_length_limit
    s = S(); s.cmd(b"EHLO probe.test\r\n")
    want(f"{n}-octet XCRYPT line -> 501", s.cmd(b"XCRYPT t32_1.0 " + b"a" * n + b" " + b"1" * 20 + b"\r\n"), "501")
    want(f"... and the session goes on after the {n}-octet line", s.cmd(b"NOOP\r\n"), "250")
import ssl
s = S(); ehlo = s.cmd(b"EHLO probe.test\r\n")
want("STARTTLS offered beside XCRYPT", [str(any(l[4:] == "STARTTLS" for l in ehlo))], "True")
want("STARTTLS -> 220", s.cmd(b"STARTTLS\r\n"), "220")
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s.s = ctx.wrap_socket(s.s, server_hostname="mx.e2e.test"); s.f = s.s.makefile("rb")
ehlo = s.cmd(b"EHLO probe.test\r\n")
want("no XCRYPT offer under TLS", [str(not any("XCRYPT" in l for l in ehlo))], "True")
want("XCRYPT after STARTTLS -> 503", s.cmd(start()), "503")
want("the TLS session goes on", s.cmd(b"NOOP\r\n"), "250")
# A client that walks away mid-exchange: with another command (docs/xcrypt.md §6.9: the
# exchange is abandoned and the command answered in plaintext), or by hanging up.
s = S(); s.cmd(b"EHLO probe.test\r\n")
want("XCRYPT -> 250 XCRYPT <Kb> <Nb>", s.cmd(start()), "250 XCRYPT ")
want("a command instead of XCRYPT OK is answered in plaintext", s.cmd(b"NOOP\r\n"), "250")
want("... and the session goes on", s.cmd(b"RSET\r\n"), "250")
s = S(); s.cmd(b"EHLO probe.test\r\n")
want("XCRYPT -> 250 XCRYPT (then the client hangs up)", s.cmd(start()), "250 XCRYPT ")
s.s.close()
s = S()
want("a new session after the hang-up is served", s.cmd(b"EHLO probe.test\r\n"), "250")
# XCRYPT refusals count as errors: at smtpd_hard_error_limit (5 here) Postfix says 421
# and closes, and goes on serving others.
s = S(); s.cmd(b"EHLO probe.test\r\n")
for i in range(10):
    r = s.cmd(b"XCRYPT t32_1.0 zz zz\r\n")
    if not r[-1].startswith("501"):
        break
want(f"bad XCRYPT lines reach the hard error limit -> 421 (after {i} refusals)", r, "421")
want("... with 5 refusals before it", [str(i)], "5")
s = S()
want("the server serves the next client", s.cmd(b"EHLO probe.test\r\n"), "250")
sys.exit(1 if fails else 0)
EOF
rc=$?
cat "$W/probes.log"
[ $rc = 0 ] || FAILS=$((FAILS + 1))
check "3.log: the exchange abandoned for another command is logged" \
  grep -q 'smtpd\[[0-9]*\]: XCRYPT exchange with localhost\[127.0.0.1\] abandoned by the client$' "$W/x/maillog"

echo "== 4. defaults behave as stock Postfix"
smtp_probe "$P_S" >"$W/stock.log" 2>&1 <<'EOF'
ehlo = cmd(b"EHLO probe.test\r\n")
x = cmd(b"XCRYPT t32_1.0 " + b"2" * 192 + b" " + b"1" * 20 + b"\r\n")
print(ehlo, x)
sys.exit(0 if not any("XCRYPT" in l for l in ehlo) and x[-1].startswith("500") else 1)
EOF
check "4.no XCRYPT offer; XCRYPT is 500 (see $W/stock.log)" test $? = 0
check "4.postconf -d knows smtpd_xcrypt_level = none" \
  bash -c "'$REPO/target/postfix/build/postfix-3.7.11/bin/postconf' -d smtpd_xcrypt_level | grep -qx 'smtpd_xcrypt_level = none'"

echo "== 5. one key pair per server: the cache file shared by smtpd processes"
# max_use = 1: every session gets a fresh smtpd process. With the cache file the server
# key must be the same in both sessions; without it (the control) it must differ.
server_keys() { # server_keys PORT -> the server key of two sessions, one per line
  for i in 1 2; do
    "$PY" "$HERE/xcrypt_client.py" "$1" t32_1.0 "k$i$CAN@src.test" "k$i$CAN@e2e.test" "$W/t32.eml" \
      --libssmail "$LIB" | sed -n 's/^xcrypt: server key //p'
  done
}
server_keys "$P_C" >"$W/keys-c.txt"
server_keys "$P_M" >"$W/keys-m.txt"
check "5.two sessions with the cache file got a server key each" test "$(grep -c . "$W/keys-c.txt")" = 2
check "5.same server key from two smtpd processes (cache file)" test "$(sort -u "$W/keys-c.txt" | wc -l)" = 1
check "5.the two sessions ran in two smtpd processes" \
  test "$(sed -n 's/.*smtpd\[\([0-9]*\)\]: XCRYPT connection established.*/\1/p' "$W/c/maillog" | sort -u | wc -l)" = 2
check "5.control: memory-only keys differ between processes" \
  test "$(grep -c . "$W/keys-m.txt")" = 2 -a "$(sort -u "$W/keys-m.txt" | wc -l)" = 2
check "5.cache file is owner-only and the postfix user's" \
  test "$(stat -c '%a %U' "$W/c/data/xcrypt.cache" 2>/dev/null)" = "600 postfix"
check "5.smtpd_xcrypt_versions = t32_1.0: arrsyfor_1.0 is not offered" \
  bash -c "! '$PY' '$HERE/xcrypt_client.py' '$P_C' arrsyfor_1.0 a@src.test b@e2e.test '$W/rc4.eml'"
smtp_probe "$P_C" >"$W/versions.log" 2>&1 <<'EOF'
import secrets
ehlo = cmd(b"EHLO probe.test\r\n")
x = cmd(b"XCRYPT arrsyfor_1.0 " + b"2" * 192 + b" " + secrets.token_hex(10).encode() + b"\r\n")
# docs/xcrypt.md 4.4's order: the key is checked before the version (501, not 504).
y = cmd(b"XCRYPT arrsyfor_1.0 " + b"0" * 192 + b" " + secrets.token_hex(10).encode() + b"\r\n")
print(ehlo, x, y)
sys.exit(0 if "250-XCRYPT t32_1.0" in ehlo and x[-1].startswith("504 XCRYPT FAIL")
         and y[-1].startswith("501 ") else 1)
EOF
check "5.EHLO offers XCRYPT t32_1.0 only; arrsyfor_1.0 gets 504, with a bad key too 501" test $? = 0

echo "== 6. ssmail's own client: smtplib -> ssmail gateway outbound -> patched smtpd"
# gateway_start DIRECTION PORT UPSTREAM LOG [ARG...]: an ssmail gateway in the background.
gateway_start() {
  local dir=$1 port=$2 up=$3 log=$4
  shift 4
  "$SSMAIL" gateway "$dir" --listen "127.0.0.1:$port" --upstream "127.0.0.1:$up" "$@" 2>"$log" &
  GATEWAY=$!
  wait_until 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" || bad "6.$dir gateway ($log) did not start"
}
gateway_stop() {
  kill "$GATEWAY"
  wait "$GATEWAY" 2>/dev/null
  GATEWAY=
}
# via_outbound TAG VERSION [ARG...]: smtplib -> ssmail gateway outbound (ARGs) -> x; the
# body arrives byte-identical and x's Received: header and the gateway's log name VERSION.
via_outbound() {
  local tag=$1 v=$2 f
  shift 2
  gateway_start outbound "$P_G" "$P_X" "$W/gateway-$tag.log" --require-xcrypt "$@"
  mkmsg "$W/$tag.eml" "$tag"
  check "6.$tag: smtplib through the outbound gateway" \
    "$PY" "$REPO/e2e/pyclient.py" smtplib "$P_G" "${tag}from$CAN@src.test" "${tag}to$CAN@e2e.test" "$W/$tag.eml"
  if wait_until 20 has_delivered "${tag}to$CAN"; then
    f=$(delivered "${tag}to$CAN")
    check "6.$tag: body arrived at x byte-identical" body_same "$W/$tag.eml" "$f"
    check "6.$tag: x's Received: header names XCRYPT $v" grep -q $'^\t(using XCRYPT with cipher '"$v)" "$f"
  else
    bad "6.$tag: not delivered to x within 20 s"
  fi
  gateway_stop
  check "6.$tag: gateway log: xcrypt=yes suite=$v" \
    grep -q "session mode=outbound .*xcrypt=yes suite=$v .*result=ok" "$W/gateway-$tag.log"
}
# via_inbound TAG VERSION [ARG...]: smtplib -> y (patched smtp) -> ssmail gateway inbound
# (ARGs) -> stock-default s; byte-identical, and y's and the gateway's logs name VERSION.
via_inbound() {
  local tag=$1 v=$2 f
  shift 2
  gateway_start inbound "$P_GI" "$P_S" "$W/gateway-$tag.log" "$@"
  mkmsg "$W/$tag.eml" "$tag"
  check "6.$tag: smtplib to y (patched smtp -> inbound gateway)" \
    "$PY" "$REPO/e2e/pyclient.py" smtplib "$P_Y" "${tag}from$CAN@src.test" "${tag}to$CAN@e2e.test" "$W/$tag.eml"
  if wait_until 20 has_delivered_at s "${tag}to$CAN@e2e.test"; then
    f=$(delivered_at s "${tag}to$CAN@e2e.test")
    check "6.$tag: delivered through the inbound gateway byte-identical" body_same "$W/$tag.eml" "$f"
  else
    bad "6.$tag: not delivered through the inbound gateway within 20 s"
  fi
  check "6.$tag: y logs XCRYPT connection established to the gateway: $v" \
    grep -q "smtp\[[0-9]*\]: XCRYPT connection established to 127.0.0.1\[127.0.0.1\]:$P_GI: $v" "$W/y/maillog"
  gateway_stop
  check "6.$tag: inbound gateway log: xcrypt=yes suite=$v" \
    grep -q "session mode=inbound .*xcrypt=yes suite=$v .*result=ok" "$W/gateway-$tag.log"
}
if [ -x "$SSMAIL" ]; then
  via_outbound gw t32_1.0
  # The other direction: patched smtp (y) -> ssmail gateway inbound -> stock-default s.
  "$HERE/instance.sh" start "$W/y" --port "$P_Y" --relayhost "127.0.0.1:$P_GI" \
    --param smtp_xcrypt_level=may >/dev/null || bad "6.instance y did not start"
  via_inbound gwin t32_1.0
  # arrsyfor_1.0 both ways: gateways that run arrsyfor only (their config's versions), so
  # that the version each side picks is arrsyfor (the server's first that the client has):
  # libssmail's RC4 against the gateway's.
  printf 'versions = ["arrsyfor_1.0"]\n' >"$W/gateway-arrsyfor.toml"
  via_inbound gwinrc4 arrsyfor_1.0 --config "$W/gateway-arrsyfor.toml"
  via_outbound gwrc4 arrsyfor_1.0 --config "$W/gateway-arrsyfor.toml"
else
  echo "skip 6: no $SSMAIL (cargo build --release --locked -p ssmail, or set SSMAIL_BIN)"
fi

echo "== 7. patched smtp (sending side): r relays to x (XCRYPT), t relays to s (stock: plain)"
capture_start "$W/relay.pcap" "$W/tcpdump-relay.log" "7.tcpdump did not start"
{
  printf 'Subject: hdrrelay1k%s\r\n\r\nbodyrelay1k%s\r\n' "$CAN" "$CAN"
  for i in $(seq 12); do printf 'line %02d of a small message, padding it to about 1 KB....\r\n' "$i"; done
} >"$W/relay1k.eml"
mkmsg "$W/relay100k.eml" relay100k
for m in relay1k relay100k; do
  check "7.$m handed to r" \
    "$PY" "$REPO/e2e/pyclient.py" smtplib "$P_R" "${m}from$CAN@src.test" "${m}to$CAN@e2e.test" "$W/$m.eml"
done
mkmsg "$W/tplain.eml" tplain
check "7.tplain handed to t" \
  "$PY" "$REPO/e2e/pyclient.py" smtplib "$P_T" "tplainfrom$CAN@src.test" "tplainto$CAN@e2e.test" "$W/tplain.eml"
for m in relay1k relay100k; do
  if wait_until 20 has_delivered "${m}to$CAN"; then
    f=$(delivered "${m}to$CAN")
    check "7.$m arrived at x byte-identical" body_same "$W/$m.eml" "$f"
    check "7.$m: x's Received: header for the r hop names XCRYPT t32_1.0" \
      xcrypt_received "$f"
  else
    bad "7.$m not delivered to x within 20 s"
  fi
done
check "7.r logs XCRYPT connection established to x" \
  grep -q "smtp\[[0-9]*\]: XCRYPT connection established to 127.0.0.1\[127.0.0.1\]:$P_X: t32_1.0" "$W/r/maillog"
# smtpd's disconnect line counts commands; XCRYPT's lines are counted as xcrypt=S/T
# (S answered 2xx/3xx), after ehlo and starttls as Postfix orders its own.
check "7.x's disconnect line for an r session counts XCRYPT and OK: xcrypt=2" \
  grep -qE "smtpd\[[0-9]+\]: disconnect from [^ ]+ ehlo=1 xcrypt=2 mail=1 rcpt=1 data=1 .*commands=[0-9]+\$" "$W/x/maillog"
check "7.x's disconnect lines count refused XCRYPT lines (xcrypt=S/T, section 3)" \
  grep -qE "smtpd\[[0-9]+\]: disconnect from .* xcrypt=[0-9]+/[0-9]+ .*commands=[0-9]+/[0-9]+\$" "$W/x/maillog"
check "7.s (defaults) counts XCRYPT as an unknown command, as stock Postfix does" \
  bash -c "! grep -q ' xcrypt=' '$W/s/maillog' && grep -qE 'disconnect from .* unknown=0/[0-9]+' '$W/s/maillog'"
if wait_until 20 has_delivered_at s "tplainto$CAN@e2e.test"; then
  f=$(delivered_at s "tplainto$CAN@e2e.test")
  check "7.t -> stock s: delivered in plaintext, byte-identical" body_same "$W/tplain.eml" "$f"
  check "7.t -> stock s: no XCRYPT attempted" bash -c "! grep -q XCRYPT '$W/t/maillog'"
else
  bad "7.t -> stock s: not delivered within 20 s"
fi
capture_end "$W/relay.pcap" "sentinel2$CAN" "7.tcpdump did not write the sentinel"
check "7.wire r -> x: handshake present" \
  "$PY" "$REPO/e2e/pcapcheck.py" "$W/relay.pcap" --port "$P_X" --present "XCRYPT OK" --present "250 XCRYPT OK"
check "7.wire r -> x: no envelope address, canary or body line after the switch points" \
  "$PY" "$REPO/e2e/pcapcheck.py" "$W/relay.pcap" --port "$P_X" --after-switch \
  --absent "relay1kto$CAN" --absent "relay1kfrom$CAN" --absent "bodyrelay1k$CAN" --absent "hdrrelay1k$CAN" \
  --absent "relay100kto$CAN" --absent "bodyrelay100k$CAN" --absent "MAIL FROM" --absent "line 1000 of"
check "7.control: the t -> s hop is plaintext on the wire" \
  "$PY" "$REPO/e2e/pcapcheck.py" "$W/relay.pcap" --port "$P_S" --present "bodytplain$CAN"

echo "== 8. smtp_xcrypt_level = encrypt: deferred towards a server without XCRYPT, sent once it has it"
PF=$REPO/target/postfix/build/postfix-3.7.11
mkmsg "$W/enc.eml" enc
check "8.message handed to u" \
  "$PY" "$REPO/e2e/pyclient.py" smtplib "$P_U" "encfrom$CAN@src.test" "encto$CAN@e2e.test" "$W/enc.eml"
check "8.u defers it: XCRYPT required, not offered" \
  wait_until 20 grep -q "to=<encto$CAN@e2e.test>.*status=deferred (XCRYPT is required, but host 127.0.0.1\[127.0.0.1\] did not offer it" "$W/u/maillog"
check "8.nothing reached v in plaintext" bash -c "! grep -q 'encto$CAN' '$W/v/maillog'"
# v turns XCRYPT on (main.cf + reload), then u's queue is flushed.
echo "smtpd_xcrypt_level = may" >>"$W/v/conf/main.cf"
kill -HUP "$(tr -d ' ' <"$W/v/queue/pid/master.pid")"
# An idle smtpd from before the reload may still take a connection: wait for the offer.
offers_xcrypt() {
  PROBE_TIMEOUT=5 smtp_probe "$P_V" <<'EOF'
lines = cmd(b"EHLO probe.test\r\n")
s.sendall(b"QUIT\r\n")
sys.exit(0 if any(l[4:].startswith("XCRYPT") for l in lines) else 1)
EOF
}
check "8.v offers XCRYPT after the reload" wait_until 15 offers_xcrypt
"$PF/bin/postqueue" -c "$W/u/conf" -f
if wait_until 30 has_delivered_at v "encto$CAN@e2e.test"; then
  f=$(delivered_at v "encto$CAN@e2e.test")
  check "8.after v offers XCRYPT: delivered byte-identical" body_same "$W/enc.eml" "$f"
  check "8.... over XCRYPT (v's Received: header)" \
    xcrypt_received "$f"
else
  bad "8.not delivered to v within 30 s of the flush"
fi

echo "== 9. a 10 MB message, patched smtp (r) -> patched smtpd (x)"
"$PY" - "$W/big.eml" "$CAN" <<'EOF'
import sys
with open(sys.argv[1], "wb") as f:
    f.write(b"From: sender@src.test\r\nSubject: big%s\r\n\r\n" % sys.argv[2].encode())
    n = 0
    while n < 10 * 1024 * 1024:
        line = b"%s%07d %s\r\n" % (b"." if n % 7 == 0 else b"", n, b"x" * 90)
        f.write(line)
        n += len(line)
EOF
check "9.10 MB message handed to r" \
  "$PY" "$REPO/e2e/pyclient.py" smtplib "$P_R" "bigfrom$CAN@src.test" "bigto$CAN@e2e.test" "$W/big.eml"
if wait_until 90 has_delivered "bigto$CAN"; then
  f=$(delivered "bigto$CAN")
  check "9.10 MB body arrived at x byte-identical ($(stat -c %s "$W/big.eml") bytes sent)" body_same "$W/big.eml" "$f"
  check "9.... over XCRYPT (x's Received: header for the r hop)" \
    xcrypt_received "$f"
else
  bad "9.10 MB message not delivered to x within 90 s"
fi

echo "== 10. the key cache: 200 sessions, 20 concurrent smtp processes -> one smtpd pool"
# j relays to k; each message its own session (no connection cache); up to 20 smtp
# processes at once from the start; both sides keep their keys in a cache file.
"$HERE/instance.sh" start "$W/k" --port "$P_K" --param smtpd_xcrypt_level=may \
  --param "smtpd_xcrypt_cache_file=$W/k/data/xcrypt.cache" >/dev/null || bad "10.instance k did not start"
"$HERE/instance.sh" start "$W/j" --port "$P_J" --relayhost "127.0.0.1:$P_K" \
  --param smtp_xcrypt_level=may --param "smtp_xcrypt_cache_file=$W/j/data/xcrypt.cache" \
  --param default_destination_concurrency_limit=20 --param initial_destination_concurrency=20 \
  --param smtp_connection_cache_on_demand=no >/dev/null || bad "10.instance j did not start"
# 200 messages into j from 20 threads (10 each, one SMTP session per thread).
"$PY" - "$P_J" "$CAN" <<'EOF' || bad "10.injecting 200 messages into j"
import smtplib, sys, threading
port, can = int(sys.argv[1]), sys.argv[2]
errors = []
def worker(t):
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as s:
            for i in range(10):
                n = t * 10 + i
                s.sendmail(f"cf{n}@src.test", [f"cache{n}-{can}@e2e.test"],
                           f"Subject: cache {n}\r\n\r\ncache test message {n}\r\n")
    except Exception as e:
        errors.append(e)
threads = [threading.Thread(target=worker, args=(t,)) for t in range(20)]
[t.start() for t in threads]
[t.join() for t in threads]
if errors:
    print(errors)
sys.exit(1 if errors else 0)
EOF
arrived() { grep -lx "Delivered-To: cache[0-9]*-$CAN@e2e.test" "$W"/k/mail/Maildir/new/* 2>/dev/null | wc -l; }
enough() { test "$(arrived)" -ge "$1"; }
wait_until 120 enough 200
check "10.all 200 messages arrived at k ($(arrived))" test "$(arrived)" = 200
# sent_est INSTANCE PORT [RESULT]: its smtp's "XCRYPT connection established to" lines
# for 127.0.0.1:PORT with t32_1.0 (and "key cache RESULT", if given), counted;
# recv_est INSTANCE [RESULT]: its smtpd's "established from" lines, the same way;
# procs INSTANCE DAEMON TEXT: how many DAEMON processes logged "TEXT...".
sent_est() { grep -c "smtp\[[0-9]*\]: XCRYPT connection established to 127.0.0.1\[127.0.0.1\]:$2: t32_1.0${3:+, key cache $3\$}" "$W/$1/maillog"; }
recv_est() { grep -c "smtpd\[[0-9]*\]: XCRYPT connection established from [^ ]*\[127.0.0.1\]: t32_1.0${2:+, key cache $2\$}" "$W/$1/maillog"; }
procs() { sed -n "s/.*$2\[\([0-9]*\)\]: $3.*/\1/p" "$W/$1/maillog" | sort -u | wc -l; }
est_j() { sent_est j "$P_K" "$1"; }
est_k() { recv_est k "$1"; }
echo "     j (smtp): $(est_j miss) miss, $(est_j hit) hit; k (smtpd): $(est_k miss) miss, $(est_k hit) hit"
check "10.j: 200 XCRYPT sessions, exactly one Diffie-Hellman (1 miss, 199 hits)" \
  test "$(est_j miss) $(est_j hit)" = "1 199"
check "10.k: 200 XCRYPT sessions, exactly one Diffie-Hellman (1 miss, 199 hits)" \
  test "$(est_k miss) $(est_k hit)" = "1 199"
procs_j=$(procs j smtp "XCRYPT connection established to .*:$P_K: ")
procs_k=$(procs k smtpd "XCRYPT connection established from ")
# The most k sessions open at once, from its connect/disconnect lines in log order
# (approximate: postlogd writes the processes' lines in arrival order, and an smtpd
# logs its disconnect after the client has moved on to its next session).
peak=$(grep -oE 'smtpd\[[0-9]+\]: (connect|disconnect) from' "$W/k/maillog" |
  awk '/ connect/{n++; if (n > m) m = n} / disconnect/{n--} END{print m + 0}')
echo "     $procs_j smtp processes on j, $procs_k smtpd processes on k, at most $peak sessions at once"
check "10.the sessions ran in several smtp processes at once (peak $peak > 1, $procs_j processes)" \
  test "$peak" -gt 1 -a "$procs_j" -gt 1
check "10.no exchange fell back to plaintext" \
  bash -c "! grep -qE 'XCRYPT to .* failed|plaintext goes on' '$W/j/maillog' '$W/k/maillog'"

echo "== 11. smtp_xcrypt_policy_maps: encrypt towards x and s, none towards c (level may)"
"$HERE/instance.sh" start "$W/p" --port "$P_P" --relayhost "127.0.0.1:$P_S" \
  --param smtp_xcrypt_level=may \
  --param "smtp_xcrypt_policy_maps = inline:{ [127.0.0.1]:$P_X=encrypt, [127.0.0.1]:$P_C=none, [127.0.0.1]:$P_S=encrypt }" \
  --param "transport_maps = inline:{ enc.test=smtp:[127.0.0.1]:$P_X, none.test=smtp:[127.0.0.1]:$P_C, encs.test=smtp:[127.0.0.1]:$P_S }" \
  >/dev/null || bad "11.instance p did not start"
check "11.postconf -d knows smtp_xcrypt_policy_maps and lmtp_xcrypt_policy_maps (empty)" \
  test "$("$PF/bin/postconf" -d smtp_xcrypt_policy_maps lmtp_xcrypt_policy_maps | tr '\n' ' ')" = \
  'smtp_xcrypt_policy_maps = lmtp_xcrypt_policy_maps = '
mkmsg "$W/pol.eml" pol
for d in enc none encs; do
  check "11.message to $d.test handed to p" \
    "$PY" "$REPO/e2e/pyclient.py" smtplib "$P_P" "polfrom$CAN@src.test" "pol$d$CAN@$d.test" "$W/pol.eml"
done
if wait_until 20 has_delivered_at x "polenc$CAN@enc.test"; then
  f=$(delivered_at x "polenc$CAN@enc.test")
  check "11.encrypt -> x: delivered byte-identical" body_same "$W/pol.eml" "$f"
  check "11.encrypt -> x: over XCRYPT (x's Received: header)" \
    xcrypt_received "$f"
else
  bad "11.encrypt -> x: not delivered within 20 s"
fi
if wait_until 20 has_delivered_at c "polnone$CAN@none.test"; then
  f=$(delivered_at c "polnone$CAN@none.test")
  check "11.none -> c (which offers XCRYPT): delivered byte-identical" body_same "$W/pol.eml" "$f"
  check "11.none -> c: in plaintext (no XCRYPT in c's Received: header)" bash -c "! grep -q XCRYPT '$f'"
  check "11.none -> c: p did not try XCRYPT with c" bash -c "! grep -q 'XCRYPT.*:$P_C' '$W/p/maillog'"
else
  bad "11.none -> c: not delivered within 20 s"
fi
check "11.encrypt -> stock s: deferred (XCRYPT is required)" \
  wait_until 20 grep -q "to=<polencs$CAN@encs.test>.*status=deferred (XCRYPT is required" "$W/p/maillog"
check "11.encrypt -> stock s: nothing reached s" bash -c "! grep -rqF 'polencs$CAN' '$W/s/mail/Maildir/new/'"

echo "== 12. misbehaving servers towards smtp: bad key, refusal, plaintext behind 250 XCRYPT OK"
for m in badkey:$P_FB refuse:$P_FR inject:$P_FI hangup:$P_FH hangupkey:$P_FK stall:$P_FS; do
  "$PY" "$HERE/fake_server.py" "${m#*:}" "${m%%:*}" "$W/fake.jsonl" 2>"$W/fake-${m%%:*}.log" &
  FAKES="$FAKES $!"
done
for m in $P_FB $P_FR $P_FI $P_FH $P_FK $P_FS; do
  wait_until 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$m" || bad "12.fake server on $m did not start"
done
fakemaps="transport_maps = inline:{ bk.test=smtp:[127.0.0.1]:$P_FB, rf.test=smtp:[127.0.0.1]:$P_FR, in.test=smtp:[127.0.0.1]:$P_FI, lm.test=lmtp:[127.0.0.1]:$P_FI, hu.test=smtp:[127.0.0.1]:$P_FH, hk.test=smtp:[127.0.0.1]:$P_FK }"
# fm also receives with XCRYPT, smtpd and smtp sharing one cache file: one key pair for
# the whole server, so the key fm's smtp sends must be the one its smtpd showed.
"$HERE/instance.sh" start "$W/fm" --port "$P_FM" --relayhost "127.0.0.1:$P_S" \
  --param smtp_xcrypt_level=may --param "$fakemaps" --param smtpd_xcrypt_level=may \
  --param lmtp_xcrypt_level=may \
  --param minimal_backoff_time=2s --param maximal_backoff_time=4s --param queue_run_delay=1s \
  --param "smtpd_xcrypt_cache_file=$W/fm/data/xcrypt.cache" \
  --param "smtp_xcrypt_cache_file=$W/fm/data/xcrypt.cache" >/dev/null || bad "12.instance fm did not start"
"$HERE/instance.sh" start "$W/fe" --port "$P_FE" --relayhost "127.0.0.1:$P_S" \
  --param smtp_xcrypt_level=encrypt --param "$fakemaps" \
  --param minimal_backoff_time=2s --param maximal_backoff_time=4s --param queue_run_delay=1s \
  >/dev/null || bad "12.instance fe did not start"
"$HERE/instance.sh" start "$W/ft" --port "$P_FT" --relayhost "127.0.0.1:$P_S" \
  --param smtp_xcrypt_level=may --param smtp_helo_timeout=3s \
  --param "transport_maps = inline:{ st.test=smtp:[127.0.0.1]:$P_FS }" \
  --param minimal_backoff_time=2s --param maximal_backoff_time=4s --param queue_run_delay=1s \
  >/dev/null || bad "12.instance ft did not start"
"$HERE/instance.sh" start "$W/fl" --port "$P_FL" --relayhost "127.0.0.1:$P_S" --param "$fakemaps" \
  --param "lmtp_xcrypt_policy_maps = inline:{ [127.0.0.1]:$P_FI=encrypt }" \
  --param "smtp_xcrypt_policy_maps = inline:{ [127.0.0.1]:$P_FI=none }" \
  >/dev/null || bad "12.instance fl did not start"
mkmsg "$W/fake.eml" fake
fm_key=$("$PY" "$HERE/xcrypt_client.py" "$P_FM" t32_1.0 "fakefrom$CAN@src.test" "fmshared$CAN@in.test" \
  "$W/fake.eml" --libssmail "$LIB" | sed -n 's/^xcrypt: server key //p')
check "12.fm's smtpd took a message over XCRYPT (its server key: ${fm_key:0:16}...)" test -n "$fm_key"
for lvl in fm fe; do
  port=$P_FM
  [ $lvl = fe ] && port=$P_FE
  for d in bk rf in lm hu hk; do
    check "12.$lvl: message to $d.test handed over" \
      "$PY" "$REPO/e2e/pyclient.py" smtplib "$port" "fakefrom$CAN@src.test" "$lvl$d$CAN@$d.test" "$W/fake.eml"
  done
done
recorded() { # recorded RCPT -> "encrypted=True|False body=same|different" per copy the fake got
  "$PY" - "$W/fake.jsonl" "$1" "$W/fake.eml" <<'EOF'
import json, os, sys
sent = open(sys.argv[3], "rb").read().decode().split("\r\n\r\n", 1)[1].rstrip("\r\n")
for line in open(sys.argv[1]) if os.path.exists(sys.argv[1]) else []:
    r = json.loads(line)
    if sys.argv[2] in r["rcpt"]:
        body = r["body"].split("\r\n\r\n", 1)[1].rstrip("\r\n")
        print(f"encrypted={r['encrypted']} body={'same' if body == sent else 'different'}")
EOF
}
wait_until 30 bash -c "[ \$(grep -c '$CAN' '$W/fake.jsonl' 2>/dev/null) -ge 7 ]"
check "12.may, bad server key: delivered in plaintext" test "$(recorded "fmbk$CAN@bk.test")" = "encrypted=False body=same"
check "12.may, bad server key: smtp sent XCRYPT FAIL and logged it" \
  grep -q "XCRYPT to 127.0.0.1\[127.0.0.1\]:$P_FB failed (the server's key or nonce is unusable: sent XCRYPT FAIL), plaintext: 250 XCRYPT FAIL" "$W/fm/maillog"
check "12.may, refusal (454): delivered in plaintext" test "$(recorded "fmrf$CAN@rf.test")" = "encrypted=False body=same"
check "12.may, refusal: logged with the server's reply" \
  grep -q "XCRYPT to 127.0.0.1\[127.0.0.1\]:$P_FR failed, plaintext: 454 XCRYPT FAIL" "$W/fm/maillog"
check "12.may, plaintext behind 250 XCRYPT OK: delivered encrypted" test "$(recorded "fmin$CAN@in.test")" = "encrypted=True body=same"
# LMTP: fm's lmtp_xcrypt_level = may runs the exchange over LMTP; fe sets only
# smtp_xcrypt_level = encrypt, so its lmtp client (level none) sends in plaintext.
check "12.lmtp_xcrypt_level = may: LMTP delivery over XCRYPT" test "$(recorded "fmlm$CAN@lm.test")" = "encrypted=True body=same"
check "12.lmtp: logged, the plaintext behind 250 XCRYPT OK discarded" \
  grep -q "lmtp\[[0-9]*\]: XCRYPT: discarded 42 bytes behind 250 XCRYPT OK from 127.0.0.1\[127.0.0.1\]:$P_FI" "$W/fm/maillog"
check "12.lmtp_xcrypt_level unset (none) beside smtp_xcrypt_level = encrypt: LMTP in plaintext" \
  test "$(recorded "felm$CAN@lm.test")" = "encrypted=False body=same"
# fl sets no level: lmtp_xcrypt_policy_maps alone makes its LMTP next hop encrypt, and
# smtp_xcrypt_policy_maps (none for the same next hop) must not be what lmtp reads.
check "12.fl: message to lm.test handed over" \
  "$PY" "$REPO/e2e/pyclient.py" smtplib "$P_FL" "fakefrom$CAN@src.test" "fllm$CAN@lm.test" "$W/fake.eml"
check "12.fl: delivered to lm.test" wait_until 20 grep -q "to=<fllm$CAN@lm.test>.*status=sent" "$W/fl/maillog"
check "12.lmtp_xcrypt_policy_maps (encrypt for [127.0.0.1]:$P_FI), level unset: LMTP over XCRYPT" \
  test "$(recorded "fllm$CAN@lm.test")" = "encrypted=True body=same"
check "12.lmtp_xcrypt_policy_maps: fl's lmtp logged the exchange" \
  grep -q "lmtp\[[0-9]*\]: XCRYPT connection established to 127.0.0.1\[127.0.0.1\]:$P_FI" "$W/fl/maillog"
# A server that hangs up on the XCRYPT start (hu), or on the client's XCRYPT OK after a
# good key (hk: the client has its session keys then). fm (may): the first attempt is
# deferred (a lost connection), the next one, after minimal_backoff_time, retries the
# address in plaintext at once and delivers; fe (encrypt): deferred, never in plaintext.
for h in hu:$P_FH hk:$P_FK; do
  d=${h%%:*} port=${h#*:}
  check "12.may, $d: hang-up mid-exchange: first deferred (lost connection)" \
    wait_until 20 grep -q "to=<fm$d$CAN@$d.test>.*status=deferred (lost connection with 127.0.0.1\[127.0.0.1\] while receiving the XCRYPT response)" "$W/fm/maillog"
  check "12.may, $d: a later attempt retried in plaintext and logged why" \
    wait_until 30 grep -q "XCRYPT to 127.0.0.1\[127.0.0.1\]:$port: not tried (retrying in plaintext after a connection lost or timed out mid-exchange)" "$W/fm/maillog"
  check "12.may, $d: sent" wait_until 20 grep -q "to=<fm$d$CAN@$d.test>.*status=sent" "$W/fm/maillog"
  check "12.may, $d: delivered in plaintext, once" \
    test "$(recorded "fm$d$CAN@$d.test")" = "encrypted=False body=same"
  check "12.encrypt, $d: deferred, and again after minimal_backoff_time" \
    wait_until 20 bash -c "[ \$(grep -c 'to=<fe$d$CAN@$d.test>.*status=deferred' '$W/fe/maillog') -ge 2 ]"
  check "12.encrypt, $d: nothing reached the server" test -z "$(recorded "fe$d$CAN@$d.test")"
done
# A server that never answers the XCRYPT start: ft (may, smtp_helo_timeout = 3s) times
# out, defers, and on a later attempt retries the address in plaintext and delivers.
check "12.ft: message to st.test handed over" \
  "$PY" "$REPO/e2e/pyclient.py" smtplib "$P_FT" "fakefrom$CAN@src.test" "ftst$CAN@st.test" "$W/fake.eml"
check "12.may, no answer to the start: timed out and deferred" \
  wait_until 20 grep -q "to=<ftst$CAN@st.test>.*status=deferred (conversation with 127.0.0.1\[127.0.0.1\] timed out while receiving the XCRYPT response)" "$W/ft/maillog"
check "12.may, no answer: a later attempt retried in plaintext and sent" \
  wait_until 40 grep -q "to=<ftst$CAN@st.test>.*status=sent" "$W/ft/maillog"
check "12.may, no answer: the retry was logged" \
  grep -q "XCRYPT to 127.0.0.1\[127.0.0.1\]:$P_FS: not tried (retrying in plaintext after a connection lost or timed out mid-exchange)" "$W/ft/maillog"
check "12.may, no answer: delivered in plaintext, once" \
  test "$(recorded "ftst$CAN@st.test")" = "encrypted=False body=same"
check "12.no smtp process of fm, fe or ft died (no smtp panic, fatal, exit status or signal)" \
  bash -c "! grep -E 'smtp\[[0-9]+\]: (panic|fatal):|/smtp pid [0-9]+ (exit status|killed by signal)' '$W/fm/maillog' '$W/fe/maillog' '$W/ft/maillog'"
client_key() { # client_key RCPT -> the public key the fake server got with RCPT's message
  "$PY" -c 'import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if sys.argv[2] in r["rcpt"]: print(r["client_key"])' "$W/fake.jsonl" "$1"
}
check "12.one key pair per server: fm's smtp sent the key its smtpd showed (one cache file)" \
  test -n "$fm_key" -a "$(client_key "fmin$CAN@in.test")" = "$fm_key" -a "$(client_key "fmshared$CAN@in.test")" = "$fm_key"
check "12.may, plaintext behind 250 XCRYPT OK: discarded and logged" \
  grep -q "XCRYPT: discarded 42 bytes behind 250 XCRYPT OK from 127.0.0.1\[127.0.0.1\]:$P_FI" "$W/fm/maillog"
check "12.encrypt, plaintext behind 250 XCRYPT OK: delivered encrypted" test "$(recorded "fein$CAN@in.test")" = "encrypted=True body=same"
for d in bk rf; do
  check "12.encrypt, $d: deferred (XCRYPT is required)" \
    wait_until 20 grep -q "to=<fe$d$CAN@$d.test>.*status=deferred (XCRYPT is required, but host 127.0.0.1\[127.0.0.1\] did not offer it or the exchange failed" "$W/fe/maillog"
  check "12.encrypt, $d: nothing reached the server" test -z "$(recorded "fe$d$CAN@$d.test")"
done

echo "== 13. xcrypt in smtpd_discard_ehlo_keywords / smtp_discard_ehlo_keywords"
# d offers XCRYPT (level may) but discards the keyword; its smtp (level may) relays to x
# and ignores x's offer.
"$HERE/instance.sh" start "$W/d" --port "$P_D" --relayhost "127.0.0.1:$P_X" \
  --param smtpd_xcrypt_level=may --param smtpd_discard_ehlo_keywords=xcrypt \
  --param smtp_xcrypt_level=may --param smtp_discard_ehlo_keywords=xcrypt \
  >/dev/null || bad "13.instance d did not start"
smtp_probe "$P_D" >"$W/discard.log" 2>&1 <<'EOF'
lines = cmd(b"EHLO probe.test\r\n")
print(lines)
sys.exit(0 if not any("XCRYPT" in l.upper() for l in lines) and len(lines) > 3 else 1)
EOF
check "13.smtpd: no XCRYPT in the EHLO reply (see $W/discard.log)" test $? = 0
mkmsg "$W/disc.eml" disc
check "13.message handed to d" \
  "$PY" "$REPO/e2e/pyclient.py" smtplib "$P_D" "discfrom$CAN@src.test" "discto$CAN@e2e.test" "$W/disc.eml"
if wait_until 20 has_delivered "discto$CAN"; then
  f=$(delivered "discto$CAN")
  check "13.smtp: delivered to x byte-identical" body_same "$W/disc.eml" "$f"
  check "13.smtp: in plaintext (no XCRYPT in x's Received: header for the d hop)" \
    bash -c "! grep -A1 '^Received: from mx.e2e.test' '$f' | grep -q XCRYPT"
  check "13.smtp: d did not try XCRYPT (and logged the discard)" \
    bash -c "grep -q 'smtp\[[0-9]*\]: discarding EHLO keywords: XCRYPT' '$W/d/maillog' && ! grep -qE 'XCRYPT (connection|to )' '$W/d/maillog'"
else
  bad "13.not delivered to x within 20 s"
fi

echo "== 14. XCRYPT connections reused through the connection cache"
# cs caches its connections to cr (any number of deliveries each) and runs at most two
# deliveries at once, so that 30 queued messages go over a few connections, each handed
# to scache between deliveries and taken up again by whichever smtp process is free.
"$HERE/instance.sh" start "$W/cr" --port "$P_CR" --param smtpd_xcrypt_level=may \
  >/dev/null || bad "14.instance cr did not start"
"$HERE/instance.sh" start "$W/cs" --port "$P_CS" --relayhost "127.0.0.1:$P_CR" \
  --param smtp_xcrypt_level=may --param smtp_connection_cache_destinations=127.0.0.1 \
  --param smtp_destination_concurrency_limit=2 --param initial_destination_concurrency=2 \
  >/dev/null || bad "14.instance cs did not start"
capture_start "$W/reuse.pcap" "$W/tcpdump-reuse.log" "14.tcpdump did not start" "$P_CR"
for i in $(seq 30); do
  {
    printf 'Subject: hdrreuse%s-%s\r\n\r\nbodyreuse%s-%s\r\n' "$i" "$CAN" "$i" "$CAN"
    for l in $(seq $((i * 20))); do printf 'line %04d of message %s, growing with its number\r\n' "$l" "$i"; done
  } >"$W/reuse$i.eml"
done
"$PY" - "$P_CS" "$CAN" "$W" <<'EOF' || bad "14.injecting 30 messages into cs"
import smtplib, sys
port, can, w = int(sys.argv[1]), sys.argv[2], sys.argv[3]
with smtplib.SMTP("127.0.0.1", port, timeout=60) as s:
    for i in range(1, 31):
        with open(f"{w}/reuse{i}.eml", "rb") as f:
            s.sendmail(f"reusefrom{i}-{can}@src.test", [f"reuseto{i}-{can}@e2e.test"], f.read())
EOF
reuse_arrived() { grep -lE "^Delivered-To: reuseto[0-9]+-$CAN@e2e.test" "$W"/cr/mail/Maildir/new/* 2>/dev/null | wc -l; }
reuse_enough() { test "$(reuse_arrived)" -ge 30; }
wait_until 60 reuse_enough
check "14.all 30 messages arrived at cr ($(reuse_arrived))" test "$(reuse_arrived)" = 30
same=0
xcrypted=0
for i in $(seq 30); do
  f=$(delivered_at cr "reuseto$i-$CAN@e2e.test")
  [ -n "$f" ] || continue
  body_same "$W/reuse$i.eml" "$f" && same=$((same + 1))
  xcrypt_received "$f" && xcrypted=$((xcrypted + 1))
done
check "14.every body byte-identical ($same of 30)" test "$same" = 30
check "14.every message's cr Received: header names XCRYPT t32_1.0 ($xcrypted of 30)" test "$xcrypted" = 30
est=$(sent_est cs "$P_CR")
reused=$(grep -c "smtp\[[0-9]*\]: XCRYPT connection reused to 127.0.0.1\[127.0.0.1\]:$P_CR: t32_1.0" "$W/cs/maillog")
sessions=$(recv_est cr)
takers=$(procs cs smtp "XCRYPT connection reused to ")
echo "     cs: $est exchanges, $reused reuses (in $takers smtp processes); cr: $sessions XCRYPT sessions"
check "14.connections were reused: $reused reuses, $est exchanges for 30 messages" \
  test "$reused" -ge 10 -a $((est + reused)) -ge 30
check "14.cr saw as many XCRYPT sessions as cs made exchanges, and fewer than 30" \
  test "$sessions" = "$est" -a "$sessions" -lt 30
check "14.no cached state refused, no smtp died" \
  bash -c "! grep -qE 'cached XCRYPT state|bad cached session|smtp\[[0-9]+\]: (panic|fatal):|/smtp pid [0-9]+ (exit status|killed by signal)' '$W/cs/maillog'"
capture_end "$W/reuse.pcap" "sentinel14$CAN" "14.tcpdump did not write the sentinel"
check "14.wire cs -> cr: every connection switched; no envelope, canary or body line after" \
  "$PY" "$REPO/e2e/pcapcheck.py" "$W/reuse.pcap" --port "$P_CR" --after-switch \
  --absent "reuseto1-$CAN" --absent "reusefrom30-$CAN" --absent "bodyreuse" --absent "hdrreuse" \
  --absent "MAIL FROM" --absent "RSET" --absent "growing with its number" --present "XCRYPT OK"

echo "== 15. chroot (as Debian's master.cf): the key cache file inside the queue directory"
# hr and hs run smtpd and smtp chrooted into their queue directories; the cache files are
# named by their paths inside the chroot. hr has one session per smtpd process.
"$HERE/instance.sh" start "$W/hr" --port "$P_HR" --chroot --param smtpd_xcrypt_level=may \
  --param max_use=1 --param smtpd_xcrypt_cache_file=/xcrypt/smtpd.cache \
  >/dev/null || bad "15.instance hr did not start"
"$HERE/instance.sh" start "$W/hs" --port "$P_HS" --chroot --relayhost "127.0.0.1:$P_HR" \
  --param smtp_xcrypt_level=may --param smtp_connection_cache_on_demand=no \
  --param smtp_xcrypt_cache_file=/xcrypt/smtp.cache >/dev/null || bad "15.instance hs did not start"
install -d -o postfix -g postfix -m 0700 "$W/hr/queue/xcrypt" "$W/hs/queue/xcrypt"
# (mkmsg's own loop uses i.)
for n in 1 2 3; do mkmsg "$W/chroot$n.eml" "chroot$n"; done
for n in 1 2 3; do
  check "15.message $n handed to hs" \
    "$PY" "$REPO/e2e/pyclient.py" smtplib "$P_HS" "chrootfrom$n$CAN@src.test" "chrootto$n$CAN@e2e.test" "$W/chroot$n.eml"
  # One at a time, so that the first exchange has made the key pair before the next.
  wait_until 20 has_delivered_at hr "chrootto$n$CAN@e2e.test"
done
for n in 1 2 3; do
  f=$(delivered_at hr "chrootto$n$CAN@e2e.test")
  check "15.message $n arrived at hr over XCRYPT" \
    xcrypt_received "$f"
  check "15.message $n byte-identical" body_same "$W/chroot$n.eml" "${f:-/nonexistent}"
done
hs_cache() { sent_est hs "$P_HR" "$1"; }
hr_cache() { recv_est hr "$1"; }
hr_procs=$(procs hr smtpd "XCRYPT connection established from ")
echo "     hs (smtp): $(hs_cache miss) miss, $(hs_cache hit) hit; hr (smtpd): $(hr_cache miss) miss, $(hr_cache hit) hit in $hr_procs processes"
check "15.hs: one Diffie-Hellman for three sessions (1 miss, 2 hits)" test "$(hs_cache miss) $(hs_cache hit)" = "1 2"
check "15.hr: one Diffie-Hellman for three sessions in three smtpd processes" \
  test "$(hr_cache miss) $(hr_cache hit) $hr_procs" = "1 2 3"
for f in hr/queue/xcrypt/smtpd.cache hs/queue/xcrypt/smtp.cache; do
  check "15.$f: inside the chroot, the postfix user's, owner-only" \
    test "$(stat -c '%U %a' "$W/$f" 2>/dev/null)" = "postfix 600"
done
smtp_root=
for c in /proc/[0-9]*/comm; do # (no pgrep: procps may be missing)
  [ "$(cat "$c" 2>/dev/null)" = smtp ] || continue
  r=$(readlink "${c%/comm}/root" 2>/dev/null)
  [ "$r" = "$W/hs/queue" ] && smtp_root=$r
done
check "15.hs's smtp processes run chrooted into its queue directory" test "$smtp_root" = "$W/hs/queue"
check "15.no warnings from hr or hs" bash -c "! grep -qE 'warning|fatal|panic' '$W/hr/maillog' '$W/hs/maillog'"

echo "== 16. a cached plaintext connection, then smtp_xcrypt_level = encrypt: not reused"
# es caches its connection to s (stock: no XCRYPT) for 30 s; max_use = 1, so that every
# delivery runs in a new smtp process, which reads main.cf afresh. The first message goes
# in plaintext under may; then main.cf says encrypt (no reload: scache, which holds the
# connection, would exit on one) and the next smtp process finds the plaintext
# connection in the cache.
"$HERE/instance.sh" start "$W/es" --port "$P_ES" --relayhost "127.0.0.1:$P_S" \
  --param smtp_xcrypt_level=may --param smtp_connection_cache_destinations=127.0.0.1 \
  --param smtp_connection_cache_time_limit=30s --param connection_cache_ttl_limit=30s \
  --param max_use=1 >/dev/null || bad "16.instance es did not start"
for n in 1 2; do mkmsg "$W/cached$n.eml" "cached$n"; done
check "16.message 1 handed to es" \
  "$PY" "$REPO/e2e/pyclient.py" smtplib "$P_ES" "cachedfrom1$CAN@src.test" "cachedto1$CAN@e2e.test" "$W/cached1.eml"
check "16.message 1 delivered to s in plaintext under may" \
  wait_until 20 grep -q "to=<cachedto1$CAN@e2e.test>.*status=sent" "$W/es/maillog"
"$PF/bin/postconf" -c "$W/es/conf" -e smtp_xcrypt_level=encrypt
check "16.message 2 handed to es" \
  "$PY" "$REPO/e2e/pyclient.py" smtplib "$P_ES" "cachedfrom2$CAN@src.test" "cachedto2$CAN@e2e.test" "$W/cached2.eml"
check "16.message 2 deferred: XCRYPT required, s does not offer it" \
  wait_until 20 grep -q "to=<cachedto2$CAN@e2e.test>.*status=deferred (XCRYPT is required, but host 127.0.0.1\[127.0.0.1\] did not offer it" "$W/es/maillog"
check "16.the cached plaintext connection was found and refused" \
  grep -q "smtp\[[0-9]*\]: warning: smtp_session_activate: cached XCRYPT state unusable, or plaintext where XCRYPT is required" "$W/es/maillog"
check "16.message 2 did not reach s" bash -c "! grep -q 'cachedto2$CAN' '$W/s/maillog'"
check "16.message 2 was not sent over a reused connection" \
  bash -c "! grep -q 'to=<cachedto2$CAN@e2e.test>.*conn_use=' '$W/es/maillog'"

echo "== 17. XCLIENT after XCRYPT"
# Postfix keeps TLS across XCLIENT (xclient_cmd does not call tls_reset); XCRYPT's state
# stays the same way: the stream functions stay hooked, the EHLO reply offers nothing.
"$HERE/instance.sh" start "$W/xc" --port "$P_XC" --param smtpd_xcrypt_level=may \
  --param smtpd_authorized_xclient_hosts=127.0.0.1 >/dev/null || bad "17.instance xc did not start"
mkmsg "$W/xclient.eml" xclient
check "17.XCRYPT, then XCLIENT, a refused second XCRYPT, then the message" \
  "$PY" "$HERE/xcrypt_client.py" "$P_XC" t32_1.0 "xclfrom$CAN@src.test" "xclto$CAN@e2e.test" \
  "$W/xclient.eml" --libssmail "$LIB" --xclient 127.0.0.7
check "17.delivered" wait_until 20 has_delivered_at xc "xclto$CAN@e2e.test"
f=$(delivered_at xc "xclto$CAN@e2e.test")
check "17.body byte-identical" body_same "$W/xclient.eml" "$f"
check "17.Received: names the XCLIENT client and XCRYPT t32_1.0" bash -c \
  "grep -A2 '^Received: from client.e2e.test (xclient.e2e.test \[127.0.0.7\])' '$f' | grep -q $'^\t(using XCRYPT with cipher t32_1.0)'"
# xclient=0/1 is stock Postfix's count: a successful XCLIENT restarts the session by a
# longjmp, past the success counter.
check "17.disconnect line counts the refused XCRYPT" \
  grep -q "disconnect from xclient.e2e.test\[127.0.0.7\] ehlo=3 xclient=0/1 xcrypt=2/3 mail=1 rcpt=1 data=1 quit=1 commands=9/11" "$W/xc/maillog"
check "17.no warnings from xc" bash -c "! grep -qE 'warning|fatal|panic' '$W/xc/maillog'"

echo "== $FAILS failed"
[ $FAILS = 0 ]
