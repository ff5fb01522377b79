#!/usr/bin/env python3
"""fake_server.py: a small SMTP server that offers XCRYPT and misbehaves on purpose, to
test the patched Postfix smtp (the sending side) against the spec's failure cases.

  fake_server.py PORT MODE RECORD

MODE:
  badkey   answers the start with `250 XCRYPT <Kb> <Nb>` where Kb = 0, outside [2, p-2]
           (the client must send XCRYPT FAIL; docs/xcrypt.md §6.18); plaintext goes on
  refuse   answers the start with `454 XCRYPT FAIL temporary local failure`
  inject   runs a correct exchange, but sends a plaintext line right behind
           `250 XCRYPT OK` in the same write (the client must discard it, §4.2), then
           speaks encrypted
  hangup   closes the connection on the client's start, unanswered (as a server, or a
           box in the path, that drops XCRYPT connections); a session without XCRYPT is
           served in plaintext
  stall    never answers the client's start, and holds the connection until the client
           gives up (its smtp_helo_timeout); a session without XCRYPT is served in
           plaintext
  hangupkey  answers the start with a good `250 XCRYPT <Kb> <Nb>`, then closes the
           connection when the client's `XCRYPT OK` arrives, unanswered (the client
           has made its session keys by then); a session without XCRYPT is served in
           plaintext
Speaks LMTP too (LHLO), for Postfix's lmtp client. Offers only arrsyfor_1.0 (the client takes it; RC4 is Python here, from xcrypt_client.py),
accepts every message, and appends one JSON line per message to RECORD:
{"mode", "encrypted", "client_key" (the Ka of the session's start, hex, or null), "rcpt",
"body"}. Runs until killed; one thread per connection.
"""
import hashlib
import json
import os
import secrets
import socketserver
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from xcrypt_client import P, Rc4  # noqa: E402  (the spec's group and arrsyfor_1.0)

LOCK = threading.Lock()


class Handler(socketserver.BaseRequestHandler):
    def setup(self):
        self.rx = self.tx = None
        self.pending = b""
        self.client_key = None

    def send(self, data):
        self.request.sendall(self.tx.apply(data) if self.tx else data)

    def line(self):
        while b"\r\n" not in self.pending:
            data = self.request.recv(65536)
            if not data:
                raise ConnectionError("client went away")
            self.pending += self.rx.apply(data) if self.rx else data
        line, self.pending = self.pending.split(b"\r\n", 1)
        return line

    def exchange(self, words):
        mode = self.server.mode
        self.client_key = words[2].decode().lower()
        if mode == "hangup":
            raise ConnectionError("hung up on the XCRYPT start, as asked")
        if mode == "stall":
            while self.request.recv(65536):
                pass
            raise ConnectionError("the client gave up waiting, as expected")
        if mode == "refuse":
            self.send(b"454 XCRYPT FAIL temporary local failure\r\n")
            return
        ka, na = int(words[2], 16), bytes.fromhex(words[3].decode())
        r = 2 + secrets.randbelow(P - 3)
        kb = 0 if mode == "badkey" else pow(2, r, P)
        nb = secrets.token_bytes(10)
        self.send(b"250 XCRYPT %s %s\r\n" % (b"%0192x" % kb, nb.hex().encode()))
        answer = self.line().upper()
        if mode == "hangupkey":
            raise ConnectionError("hung up on XCRYPT OK, as asked")
        if answer == b"XCRYPT FAIL":
            self.send(b"250 XCRYPT FAIL\r\n")
            return
        if answer != b"XCRYPT OK":
            self.send(b"503 XCRYPT FAIL bad sequence\r\n")
            return
        h = hashlib.sha1(pow(ka, r, P).to_bytes(96, "big") + na + nb).digest()
        # docs/xcrypt.md §4.1: the client's bytes after XCRYPT OK are ciphertext; ours
        # after 250 XCRYPT OK. The injected line is plaintext behind the switch line.
        tail = b"250 injected plaintext behind the switch\r\n" if mode == "inject" else b""
        self.request.sendall(b"250 XCRYPT OK\r\n" + tail)
        self.rx, self.tx = Rc4(h[:10]), Rc4(h[10:])
        # Bytes the client pipelined behind its XCRYPT OK are not ours to read (§4.2).
        self.pending = b""

    def handle(self):
        rcpt = []
        try:
            self.send(b"220 fake.e2e.test ESMTP fake_server.py\r\n")
            while True:
                line = self.line()
                verb = line.split(b" ", 1)[0].upper()
                if verb in (b"EHLO", b"LHLO"):  # LHLO: Postfix's lmtp client (one
                    # recipient per message here, so LMTP's per-recipient DATA reply is one)
                    offer = b"" if self.tx else b"250-XCRYPT arrsyfor_1.0\r\n"
                    self.send(b"250-fake.e2e.test\r\n" + offer + b"250 8BITMIME\r\n")
                elif verb == b"XCRYPT" and len(line.split()) == 4 and not self.tx:
                    self.exchange(line.split())
                elif verb == b"MAIL":
                    rcpt = []
                    self.send(b"250 2.1.0 Ok\r\n")
                elif verb == b"RCPT":
                    rcpt.append(line.split(b":", 1)[1].strip(b" <>").decode())
                    self.send(b"250 2.1.5 Ok\r\n")
                elif verb == b"DATA":
                    self.send(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    body = []
                    while (l := self.line()) != b".":
                        body.append(l[1:] if l.startswith(b".") else l)
                    record = {
                        "mode": self.server.mode,
                        "encrypted": self.tx is not None,
                        "client_key": self.client_key,
                        "rcpt": rcpt,
                        "body": b"\r\n".join(body).decode("utf-8", "replace"),
                    }
                    with LOCK, open(self.server.record, "a") as f:
                        f.write(json.dumps(record) + "\n")
                    self.send(b"250 2.0.0 Ok: queued\r\n")
                elif verb == b"QUIT":
                    self.send(b"221 2.0.0 Bye\r\n")
                    return
                elif verb in (b"RSET", b"NOOP"):
                    self.send(b"250 2.0.0 Ok\r\n")
                else:
                    self.send(b"502 5.5.2 Error: command not recognized\r\n")
        except (ConnectionError, OSError, ValueError):
            return


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def main(argv):
    if len(argv) != 4 or argv[2] not in ("badkey", "refuse", "inject", "hangup", "hangupkey", "stall"):
        print(__doc__)
        return 2
    server = Server(("127.0.0.1", int(argv[1])), Handler)
    server.mode, server.record = argv[2], argv[3]
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
