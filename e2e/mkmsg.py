#!/usr/bin/env python3
"""mkmsg.py OUT SIZE ID [HEADER-CANARY [BODY-CANARY]]: write an RFC 5322 message of exactly SIZE bytes.

CRLF line ends, lines well under 998 octets, deterministic content (seeded by ID), and
lines that begin with '.' (a lone ".", "..", ".text"), so that a sender has to dot-stuff
and a receiver to unstuff. ID goes into Subject and X-E2E-Id; HEADER-CANARY into an
X-Canary header, BODY-CANARY into the body. No '%' or '\\' anywhere (swaks expands tokens in --data)."""
import random
import sys


def build(size, ident, hcanary=None, bcanary=None):
    rnd = random.Random(ident)
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,-:;!?()<>="
    head = [
        "From: Alice <alice@a.test>",
        "To: Bob <bob@b.test>",
        f"Subject: e2e {ident}",
        f"Message-ID: <{ident}@e2e.test>",
        "Date: Sun, 22 Nov 2026 12:00:00 +0000",
        f"X-E2E-Id: {ident}",
    ]
    if hcanary:
        head.append(f"X-Canary: {hcanary}")
    lines = head + ["", f"body of {ident}"]
    if bcanary:
        lines.append(f"canary in the body: {bcanary}")
    dots = [".", "..", ".leading dot", "...three dots", ". space after dot"]
    lines += dots  # every message, even 1 KB, has them
    out = "\r\n".join(lines) + "\r\n"
    pieces = [out]
    total = len(out)
    i = 0
    while True:
        if i % 50 == 7:
            line = dots[(i // 50) % len(dots)]
        else:
            line = "".join(rnd.choices(alphabet, k=rnd.randint(1, 120)))
        i += 1
        if total + len(line) + 2 + 8 > size:
            break
        pieces.append(line + "\r\n")
        total += len(line) + 2
    # Pad the last line so the file is exactly SIZE bytes, still ending in CRLF.
    pad = size - total - 2
    if pad < 0:
        raise SystemExit(f"SIZE {size} too small for the headers")
    pieces.append("E" * pad + "\r\n")
    data = "".join(pieces).encode("ascii")
    assert len(data) == size, (len(data), size)
    return data


def main():
    if not 4 <= len(sys.argv) <= 6:
        raise SystemExit(__doc__)
    out, size, ident = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    canaries = sys.argv[4:] + [None, None]
    with open(out, "wb") as f:
        f.write(build(size, ident, canaries[0], canaries[1]))


if __name__ == "__main__":
    main()
