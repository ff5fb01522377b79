#!/usr/bin/env python3
"""opscheck.py: the operator's side of `ssmail gateway`, for e2e/ops.sh.

  opscheck.py metrics IN_METRICS OUT_METRICS OUT_PORT FILE [VERSION]
        scrape both gateways' /metrics (HOST:PORT) with the Prometheus project's own
        parser (prometheus_client), hold a session open through the pair (EHLO, MAIL,
        RCPT, DATA of FILE, no QUIT yet) and scrape again: the session is active and its
        key exchange counted; after QUIT the ended-session, XCRYPT and byte counters
        have moved by what the session did (encrypted with VERSION, default t32_1.0)
  opscheck.py ehlo PORT
        print the EHLO reply's keyword lines (after "250-"/"250 ")
  opscheck.py notify PORT CMD...
        run CMD with NOTIFY_SOCKET set to a socket of ours: READY=1 must come, and
        only once PORT answers with a greeting; then SIGTERM: STOPPING=1 and exit 0

Exit 0 on success; otherwise print why and exit 1.
"""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from pyclient import HELO, Raw


def scrape(addr):
    """{(sample name, frozenset of labels): value} from http://ADDR/metrics."""
    with urllib.request.urlopen(f"http://{addr}/metrics", timeout=10) as r:
        ctype = r.headers.get("Content-Type", "")
        if not ctype.startswith("text/plain; version=0.0.4"):
            raise SystemExit(f"{addr}: Content-Type {ctype!r} is not Prometheus text 0.0.4")
        text = r.read().decode("utf-8")
    out = {}
    # Raises on anything that is not the exposition format.
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def val(samples, name, **labels):
    return samples.get((name, frozenset(labels.items())), 0.0)


class Smtp(Raw):
    """pyclient's raw SMTP client, with opscheck's conventions: every failure is an exit
    with the reason, and each command names the reply code it wants."""

    def lines(self):
        """The next reply's lines."""
        try:
            return self.reply()[1]
        except ConnectionError as e:
            raise SystemExit(str(e)) from e

    def expect(self, text, want):
        """Sends the command TEXT; its reply's lines, which must end in code WANT."""
        self.sock.sendall(text.encode() + b"\r\n")
        r = self.lines()
        if not r[-1].startswith(want):
            raise SystemExit(f"{text!r} got {r!r}, wanted {want}")
        return r


def wait_for(addr, cond, what, secs=15):
    end = time.time() + secs
    while True:
        s = scrape(addr)
        if cond(s):
            return s
        if time.time() > end:
            raise SystemExit(f"{addr}: {what} not reached in {secs}s")
        time.sleep(0.05)


def metrics(in_addr, out_addr, out_port, path, version="t32_1.0"):
    with open(path, "rb") as f:
        body = f.read()
    active = "ssmail_gateway_sessions_active"
    ok = "ssmail_gateway_sessions_total"
    lookups = "ssmail_gateway_key_cache_lookups_total"
    before_in, before_out = scrape(in_addr), scrape(out_addr)
    looked = sum(val(before_in, lookups, result=r) for r in ("hit", "miss"))

    s = Smtp(out_port)
    s.lines()
    s.expect(f"EHLO {HELO}", "250")
    s.expect("MAIL FROM:<ops@a.test>", "250")
    s.expect("RCPT TO:<bob@b.test>", "250")
    s.expect("DATA", "354")
    # Dot-stuffed, as every SMTP client sends it.
    stuffed = (b"." if body.startswith(b".") else b"") + body.replace(b"\r\n.", b"\r\n..")
    s.sock.sendall(stuffed + b".\r\n")
    r = s.lines()
    if not r[-1].startswith("250"):
        raise SystemExit(f"end of data got {r!r}")
    during = wait_for(
        in_addr,
        lambda m: val(m, active, mode="inbound") == val(before_in, active, mode="inbound") + 1,
        "inbound sessions_active +1 during the session",
    )
    now = sum(val(during, lookups, result=r) for r in ("hit", "miss"))
    if now != looked + 1:
        raise SystemExit(f"inbound key cache lookups went {looked} -> {now}, not +1")
    print(f"during: inbound active={val(during, active, mode='inbound')}, lookups {looked} -> {now}")
    s.expect("QUIT", "221")
    s.sock.close()

    for addr, mode, before in ((in_addr, "inbound", before_in), (out_addr, "outbound", before_out)):
        want = val(before, ok, mode=mode, result="ok") + 1
        after = wait_for(
            addr,
            lambda m, mode=mode, want=want: val(m, ok, mode=mode, result="ok") == want,
            f"{mode} sessions_total{{result=ok}} == {want}",
        )
        moved = {
            "ok": val(after, ok, mode=mode, result="ok") - val(before, ok, mode=mode, result="ok"),
            "xcrypt": val(after, "ssmail_gateway_xcrypt_sessions_total", version=version)
            - val(before, "ssmail_gateway_xcrypt_sessions_total", version=version),
            "active": val(after, active, mode=mode),
        }
        print(f"after, {mode}: {moved}")
        if moved["xcrypt"] != 1:
            raise SystemExit(f"{mode}: xcrypt_sessions_total{{{version}}} moved by {moved['xcrypt']}")
        if moved["active"] != val(before, active, mode=mode):
            raise SystemExit(f"{mode}: sessions_active did not come back down")
        # Inbound, the message goes to the MTA as plaintext: at least its bytes.
        flow = "to_upstream" if mode == "inbound" else "from_client"
        grew = val(after, "ssmail_gateway_bytes_total", direction=flow) - val(
            before, "ssmail_gateway_bytes_total", direction=flow
        )
        if grew < len(body):
            raise SystemExit(f"{mode}: bytes_total{{{flow}}} grew by {grew} < {len(body)}")
        print(f"after, {mode}: bytes {flow} +{int(grew)}")
    return 0


def ehlo(port):
    s = Smtp(port)
    s.lines()
    for line in s.expect(f"EHLO {HELO}", "250")[1:]:
        print(line[4:])
    s.expect("QUIT", "221")
    return 0


def greets(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
            c.settimeout(5)
            ok = c.recv(3) == b"220"
            c.sendall(b"QUIT\r\n")
            return ok
    except OSError:
        return False


def notify(port, cmd):
    d = tempfile.mkdtemp()
    path = os.path.join(d, "notify")
    n = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    n.bind(path)
    n.settimeout(15)
    env = dict(os.environ, NOTIFY_SOCKET=path)
    p = subprocess.Popen(cmd, env=env, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    try:
        msg = n.recv(256).decode()
        if msg != "READY=1":
            raise SystemExit(f"first notification {msg!r}, not READY=1")
        if not greets(port):
            raise SystemExit(f"READY=1 came but port {port} gives no 220 greeting")
        print("READY=1, and the port greets")
        p.send_signal(signal.SIGTERM)
        msg = n.recv(256).decode()
        if msg != "STOPPING=1":
            raise SystemExit(f"after SIGTERM {msg!r}, not STOPPING=1")
        rc = p.wait(timeout=30)
        if rc != 0:
            raise SystemExit(f"exit {rc} after SIGTERM")
        print("STOPPING=1, exit 0")
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        n.close()
        os.unlink(path)
        os.rmdir(d)
    return 0


def main(argv):
    if len(argv) in (5, 6) and argv[0] == "metrics":
        return metrics(argv[1], argv[2], int(argv[3]), *argv[4:])
    if len(argv) == 2 and argv[0] == "ehlo":
        return ehlo(int(argv[1]))
    if len(argv) > 2 and argv[0] == "notify":
        return notify(int(argv[1]), argv[2:])
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
