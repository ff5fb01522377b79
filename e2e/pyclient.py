#!/usr/bin/env python3
"""pyclient.py: Python SMTP clients for the e2e suite.

  pyclient.py smtplib   PORT FROM TO FILE   send FILE (CRLF message) with smtplib
  pyclient.py badxcrypt PORT FROM TO FILE   raw socket: EHLO, a malformed
        "XCRYPT t32_1.0 zz zz" (must get 501 XCRYPT FAIL), then send FILE in plaintext
  pyclient.py bdat      PORT FROM TO FILE   raw socket: send FILE with CHUNKING (BDAT, three
        chunks that do not end on line boundaries, the last one "BDAT n LAST")
  pyclient.py dropdata  PORT FROM TO FILE   raw socket: DATA, half of FILE, then close the
        connection without the final "." (the message must not be delivered)

Exit 0 on success; otherwise print why and exit 1.
"""
import smtplib
import socket
import sys

HELO = "client.e2e.test"


def send_smtplib(port, mail_from, rcpt, path):
    with open(path, "rb") as f:
        msg = f.read()
    with smtplib.SMTP("127.0.0.1", port, local_hostname=HELO, timeout=60) as s:
        code, _ = s.ehlo()
        if code != 250:
            print(f"EHLO got {code}")
            return 1
        refused = s.sendmail(mail_from, [rcpt], msg)
        if refused:
            print(f"refused: {refused}")
            return 1
    print(f"smtplib: sent {len(msg)} bytes")
    return 0


class Raw:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.f = self.sock.makefile("rb")

    def reply(self):
        lines = []
        while True:
            line = self.f.readline(2048)
            if not line:
                raise ConnectionError(f"connection closed; reply so far {lines!r}")
            lines.append(line.decode("ascii", "replace").rstrip("\r\n"))
            if len(line) < 4 or line[3:4] != b"-":
                return int(lines[-1][:3]), lines

    def send(self, data, label):
        """Sends DATA, prints LABEL and the reply, returns (code, lines)."""
        self.sock.sendall(data)
        code, lines = self.reply()
        print(f"  > {label}\n  < {' | '.join(lines)}")
        return code, lines

    def cmd(self, text):
        return self.send(text.encode("ascii") + b"\r\n", text[:70])


def stuff(msg):
    """Dot-stuffed DATA (RFC 5321 4.5.2); MSG ends with CRLF."""
    return b"".join((b"." + ln if ln.startswith(b".") else ln) for ln in msg.splitlines(keepends=True))


def hello(c, want_chunking=False):
    """Greeting and EHLO; the EHLO reply's lines, or None (said why)."""
    code, lines = c.reply()
    if code != 220:
        print(f"greeting {lines}")
        return None
    code, lines = c.cmd(f"EHLO {HELO}")
    if code != 250:
        return None
    if want_chunking and not any(ln[4:].upper() == "CHUNKING" for ln in lines[1:]):
        print("CHUNKING is not offered")
        return None
    return lines


def mail_rcpt(c, mail_from, rcpt):
    for text in (f"MAIL FROM:<{mail_from}>", f"RCPT TO:<{rcpt}>"):
        code, lines = c.cmd(text)
        if code != 250:
            print(f"{text}: expected 250, got {lines}")
            return False
    return True


def envelope(c, mail_from, rcpt, want_chunking=False):
    return hello(c, want_chunking) is not None and mail_rcpt(c, mail_from, rcpt)


def badxcrypt(port, mail_from, rcpt, path):
    with open(path, "rb") as f:
        msg = f.read()
    c = Raw(port)
    lines = hello(c)
    if lines is None:
        return 1
    offered = [ln[4:] for ln in lines[1:] if ln[4:].upper().startswith("XCRYPT")]
    print(f"  XCRYPT offered: {offered}")
    code, lines = c.cmd("XCRYPT t32_1.0 zz zz")
    if code != 501 or not lines[-1][4:].upper().startswith("XCRYPT FAIL"):
        print(f"malformed XCRYPT: expected 501 XCRYPT FAIL, got {lines}")
        return 1
    if not mail_rcpt(c, mail_from, rcpt):
        return 1
    code, lines = c.cmd("DATA")
    if code != 354:
        print(f"DATA: expected 354, got {lines}")
        return 1
    code, _ = c.send(stuff(msg) + b".\r\n", f"<{len(msg)} bytes>.")
    if code != 250:
        return 1
    c.cmd("QUIT")
    return 0


def bdat(port, mail_from, rcpt, path):
    with open(path, "rb") as f:
        msg = f.read()
    c = Raw(port)
    if not envelope(c, mail_from, rcpt, want_chunking=True):
        return 1
    cuts = [0, 1001, len(msg) // 2 + 7, len(msg)]
    for i in range(3):
        chunk = msg[cuts[i]:cuts[i + 1]]
        last = " LAST" if i == 2 else ""
        head = f"BDAT {len(chunk)}{last}"
        code, _ = c.send(f"{head}\r\n".encode() + chunk, f"{head} <{len(chunk)} bytes>")
        if code != 250:
            return 1
    c.cmd("QUIT")
    return 0


def dropdata(port, mail_from, rcpt, path):
    with open(path, "rb") as f:
        msg = f.read()
    c = Raw(port)
    if not envelope(c, mail_from, rcpt):
        return 1
    code, lines = c.cmd("DATA")
    if code != 354:
        print(f"DATA: expected 354, got {lines}")
        return 1
    half = stuff(msg)[:len(msg) // 2]
    c.sock.sendall(half)
    print(f"  > <{len(half)} of {len(msg)} bytes>, then close")
    c.f.close()  # the socket is only closed when its file object is too
    c.sock.close()
    return 0


def main(argv):
    try:
        if argv[1:2] == ["smtplib"] and len(argv) == 6:
            return send_smtplib(int(argv[2]), argv[3], argv[4], argv[5])
        if argv[1:2] == ["badxcrypt"] and len(argv) == 6:
            return badxcrypt(int(argv[2]), argv[3], argv[4], argv[5])
        if argv[1:2] == ["bdat"] and len(argv) == 6:
            return bdat(int(argv[2]), argv[3], argv[4], argv[5])
        if argv[1:2] == ["dropdata"] and len(argv) == 6:
            return dropdata(int(argv[2]), argv[3], argv[4], argv[5])
    except (OSError, smtplib.SMTPException, ValueError) as err:
        print(f"error: {type(err).__name__}: {err}")
        return 1
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
