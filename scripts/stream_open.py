#!/usr/bin/env python3
"""An outside reader of the `ssmail encrypt` stream format (cli/STREAM-FORMAT.md),
written from the spec: Python's hmac/hashlib for HKDF-SHA-256 and HMAC-SHA-256, and the
ARC4 of the `cryptography` package (OpenSSL underneath) for arrsyfor files.

Usage: stream_open.py KEY_FILE < FILE > PLAINTEXT

Opens symmetric-key arrsyfor files only (t32 has no outside implementation at hand).
Exits 3 on a bad tag, 4 on truncation, 5 on a bad magic, 6 on anything unsupported.
"""

import hashlib
import hmac
import struct
import sys

try:
    from cryptography.hazmat.decrepit.ciphers.algorithms import ARC4
except ImportError:
    from cryptography.hazmat.primitives.ciphers.algorithms import ARC4
from cryptography.hazmat.primitives.ciphers import Cipher


def hkdf(salt, ikm, info, n=32):
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    out, t, i = b"", b"", 1
    while len(out) < n:
        t = hmac.new(prk, t + info + bytes([i]), hashlib.sha256).digest()
        out += t
        i += 1
    return out[:n]


def fail(code, why):
    sys.stderr.write(f"stream_open.py: {why}\n")
    sys.exit(code)


def main():
    key = bytes.fromhex(open(sys.argv[1]).read().strip())
    data = sys.stdin.buffer.read()
    if len(data) < 28:
        fail(4 if data and b"SSMAILST".startswith(data[:8]) else 5, "short header")
    if data[:8] != b"SSMAILST":
        fail(5, "bad magic")
    version, cipher, mode, log2 = data[8], data[9], data[10], data[11]
    if (version, cipher, mode) != (1, 2, 1) or not 10 <= log2 <= 24:
        fail(6, "not a version-1 symmetric arrsyfor file")
    nonce = data[12:28]
    if len(data) < 60:
        fail(4, "short header")
    head, htag = data[:28], data[28:60]
    cipher_key = hkdf(nonce, key, b"ssmail stream v1 cipher")
    mac_key = hkdf(nonce, key, b"ssmail stream v1 mac")
    if not hmac.compare_digest(hmac.new(mac_key, head, hashlib.sha256).digest(), htag):
        fail(3, "header tag")
    rc4 = Cipher(ARC4(cipher_key), mode=None).encryptor()
    rc4.update(bytes(3072))  # RC4-drop[3072]
    pos, i, out, chunk = 60, 0, bytearray(), 1 << log2
    while True:
        if pos + 4 > len(data):
            fail(4, "no final chunk")
        (word,) = struct.unpack(">I", data[pos : pos + 4])
        last, n = word >> 31, word & 0x7FFFFFFF
        if n > chunk or (not last and n != chunk):
            fail(3, "bad chunk length")
        body = data[pos + 4 : pos + 4 + n]
        tag = data[pos + 4 + n : pos + 4 + n + 32]
        if len(body) < n or len(tag) < 32:
            fail(4, "short chunk")
        msg = htag + struct.pack(">Q", i) + data[pos : pos + 4] + body
        if not hmac.compare_digest(hmac.new(mac_key, msg, hashlib.sha256).digest(), tag):
            fail(3, f"chunk {i} tag")
        out += rc4.update(body)
        pos += 4 + n + 32
        i += 1
        if last:
            break
    if pos != len(data):
        fail(3, "bytes after the final chunk")
    sys.stdout.buffer.write(bytes(out))


main()
