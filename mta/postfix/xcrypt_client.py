#!/usr/bin/env python3
"""xcrypt_client.py: a small SMTP client that speaks XCRYPT (docs/xcrypt.md §4) to test
the patched Postfix smtpd without any other ssmail code on the client side.

  xcrypt_client.py PORT VERSION FROM TO FILE [--libssmail PATH] [--xclient ADDR]

VERSION is the cipher to ask for: arrsyfor_1.0 runs RC4 in Python here (an implementation
independent of libssmail); t32_1.0 takes SOBER-t32 from libssmail's ssmail_cipher_new
through ctypes (--libssmail names libssmail.so). Diffie-Hellman, the key derivation and
the dialogue are always this file's own, from the spec.

It sends EHLO, checks the XCRYPT offer, runs the exchange, switches both directions at
the switch points of §4.1, sends EHLO again (the offer must be gone, §4.6), then FILE
(CRLF lines) with MAIL/RCPT/DATA and QUIT, all encrypted. Exit 0 when the server took
the message; otherwise prints why and exits 1.

--xclient ADDR: after the encrypted EHLO, send Postfix's XCLIENT ADDR=ADDR (as a proxy
in front of Postfix would), expect the new 220 greeting still encrypted, EHLO once more
(still no XCRYPT offer: the session stays encrypted), check that a second XCRYPT is
refused, then send the message.
"""
import ctypes
import hashlib
import secrets
import socket
import sys

# RFC 2409 §6.1, the First Oakley Default Group (docs/xcrypt.md §1).
P = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD1"
    "29024E088A67CC74020BBEA63B139B22514A08798E3404DD"
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245"
    "E485B576625E7EC6F44C42E9A63A3620FFFFFFFFFFFFFFFF",
    16,
)
HELO = "client.e2e.test"


class Rc4:
    """arrsyfor_1.0: the RC4 key schedule, no keystream discarded (docs/xcrypt.md §3)."""

    def __init__(self, key):
        s = list(range(256))
        j = 0
        for i in range(256):
            j = (j + s[i] + key[i % len(key)]) & 0xFF
            s[i], s[j] = s[j], s[i]
        self.s, self.i, self.j = s, 0, 0

    def apply(self, data):
        s, i, j = self.s, self.i, self.j
        out = bytearray(data)
        for n in range(len(out)):
            i = (i + 1) & 0xFF
            j = (j + s[i]) & 0xFF
            s[i], s[j] = s[j], s[i]
            out[n] ^= s[(s[i] + s[j]) & 0xFF]
        self.i, self.j = i, j
        return bytes(out)


class LibCipher:
    """A libssmail cipher (ssmail_cipher_new / _apply), for t32_1.0."""

    def __init__(self, lib, version, key):
        self.lib = lib
        self.h = ctypes.c_void_p()
        rc = lib.ssmail_cipher_new(version.encode(), key, len(key), ctypes.byref(self.h))
        if rc != 0:
            raise RuntimeError(f"ssmail_cipher_new: {rc}")

    def apply(self, data):
        buf = ctypes.create_string_buffer(bytes(data), len(data))
        self.lib.ssmail_cipher_apply(self.h, buf, len(data))
        return buf.raw

    def __del__(self):
        self.lib.ssmail_cipher_free(self.h)


class Session:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.rx = self.tx = None
        self.pending = b""

    def _recv(self):
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("connection closed by the server")
        return self.rx.apply(data) if self.rx else data

    def reply(self):
        """One (possibly multi-line) reply: (code, [lines])."""
        lines = []
        while True:
            while b"\r\n" not in self.pending:
                self.pending += self._recv()
            line, self.pending = self.pending.split(b"\r\n", 1)
            text = line.decode("ascii", "replace")
            lines.append(text)
            if len(text) < 4 or text[3] != "-":
                return int(text[:3]), lines

    def send(self, data):
        self.sock.sendall(self.tx.apply(data) if self.tx else data)

    def exchange(self, text):
        """Sends TEXT as one line and returns its reply (code, lines), both printed."""
        self.send(text.encode("ascii") + b"\r\n")
        code, lines = self.reply()
        print(f"  > {text[:60]}\n  < {' | '.join(l[:70] for l in lines)}")
        return code, lines

    def cmd(self, text, expect):
        code, lines = self.exchange(text)
        if code != expect:
            raise RuntimeError(f"{text[:20]!r}: expected {expect}, got {lines}")
        return lines


def check_no_offer(ehlo, when):
    """An EHLO reply after the switch must not offer XCRYPT (§4.6)."""
    if any(l[4:].upper().startswith("XCRYPT") for l in ehlo):
        raise RuntimeError(f"XCRYPT offered {when}: {ehlo}")


def main(argv):
    if len(argv) < 6:
        print(__doc__)
        return 2
    port, version, mail_from, rcpt, path = int(argv[1]), argv[2], argv[3], argv[4], argv[5]
    lib = None
    if "--libssmail" in argv:
        lib = ctypes.CDLL(argv[argv.index("--libssmail") + 1])
        lib.ssmail_cipher_new.argtypes = [
            ctypes.c_char_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_void_p)
        ]
        lib.ssmail_cipher_apply.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
        lib.ssmail_cipher_free.argtypes = [ctypes.c_void_p]
    if version == "t32_1.0" and lib is None:
        print("t32_1.0 needs --libssmail PATH")
        return 2
    with open(path, "rb") as f:
        message = f.read()

    s = Session(port)
    code, greeting = s.reply()
    if code != 220:
        raise RuntimeError(f"greeting {greeting}")
    ehlo = s.cmd(f"EHLO {HELO}", 250)
    offer = [l[4:].split()[1:] for l in ehlo if l[4:].upper().startswith("XCRYPT ")]
    if not offer or version not in offer[0]:
        raise RuntimeError(f"no XCRYPT offer of {version} in {ehlo}")

    # docs/xcrypt.md §1-§3: r in [2, p-2], K = 2^r mod p, 10-byte nonces, lowercase hex.
    r = 2 + secrets.randbelow(P - 3)
    ka = pow(2, r, P)
    na = secrets.token_bytes(10)
    start = f"XCRYPT {version} {ka:0192x} {na.hex()}"
    lines = s.cmd(start, 250)
    words = lines[-1].split()
    if len(words) != 4 or words[1].upper() != "XCRYPT":
        raise RuntimeError(f"not a key reply: {lines}")
    kb, nb = int(words[2], 16), bytes.fromhex(words[3])
    if len(words[2]) != 192 or not 2 <= kb <= P - 2 or len(nb) != 10:
        raise RuntimeError(f"bad server key or nonce: {lines}")
    print(f"xcrypt: server key {words[2].lower()}")
    z = pow(kb, r, P).to_bytes(96, "big")
    h = hashlib.sha1(z + na + nb).digest()
    k_c2s, k_s2c = h[:10], h[10:]

    def cipher(key):
        return Rc4(key) if version == "arrsyfor_1.0" else LibCipher(lib, version, key)

    # §4.1: our side switches right after "XCRYPT OK\r\n", theirs after "250 XCRYPT OK".
    s.send(b"XCRYPT OK\r\n")
    s.tx = cipher(k_c2s)
    code, lines = s.reply()
    print(f"  > XCRYPT OK\n  < {' | '.join(lines)}")
    if code != 250 or lines[-1].upper() != "250 XCRYPT OK":
        raise RuntimeError(f"XCRYPT OK got {lines}")
    if s.pending:
        raise RuntimeError(f"server sent bytes behind 250 XCRYPT OK: {s.pending!r}")
    s.rx = cipher(k_s2c)
    print(f"xcrypt: encrypted with {version}")

    check_no_offer(s.cmd(f"EHLO {HELO}", 250), "still, after the switch")
    if "--xclient" in argv:
        addr = argv[argv.index("--xclient") + 1]
        s.cmd(f"XCLIENT ADDR={addr} NAME=xclient.e2e.test", 220)
        check_no_offer(s.cmd(f"EHLO {HELO}", 250), "again after XCLIENT")
        code, lines = s.exchange(start)
        if code // 100 == 2:
            raise RuntimeError(f"a second XCRYPT after XCLIENT was accepted: {lines}")
    s.cmd(f"MAIL FROM:<{mail_from}>", 250)
    s.cmd(f"RCPT TO:<{rcpt}>", 250)
    s.cmd("DATA", 354)
    body = message if message.endswith(b"\r\n") else message + b"\r\n"
    stuffed = b"\r\n".join(b"." + l if l.startswith(b".") else l for l in body.split(b"\r\n"))
    s.send(stuffed + b".\r\n")
    code, lines = s.reply()
    print(f"  > <{len(message)} bytes>.\n  < {' | '.join(lines)}")
    if code != 250:
        raise RuntimeError(f"message refused: {lines}")
    s.cmd("QUIT", 221)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except (RuntimeError, ConnectionError, OSError) as e:
        print(f"xcrypt_client: {e}")
        sys.exit(1)
