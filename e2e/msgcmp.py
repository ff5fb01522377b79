#!/usr/bin/env python3
"""msgcmp.py exact|body STORED SENT: compare a delivered message with what was sent.

exact  STORED must be byte for byte SENT.
body   for a message an MTA stored (Postfix adds Return-Path, Delivered-To, Received and
       stores LF line ends): STORED's line ends are read as CRLF, then the body (after the
       first empty line) must equal SENT's body byte for byte, and every header line of SENT
       must be among STORED's header lines.
On a difference it prints where the two first differ."""
import sys


def split(msg):
    i = msg.find(b"\r\n\r\n")
    if i < 0:
        return msg, b""
    return msg[:i + 2], msg[i + 4:]


def first_diff(a, b):
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n if len(a) != len(b) else -1


def show(label, data, at):
    lo = max(0, at - 40)
    print(f"  {label}[{lo}:{at + 40}] = {data[lo:at + 40]!r}")


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("exact", "body"):
        raise SystemExit(__doc__)
    mode, stored_path, sent_path = sys.argv[1:]
    stored = open(stored_path, "rb").read()
    sent = open(sent_path, "rb").read()
    if mode == "exact":
        a, b = stored, sent
    else:
        if b"\r\n" not in stored:
            stored = stored.replace(b"\n", b"\r\n")
        sh, a = split(stored)
        h, b = split(sent)
        missing = [ln for ln in h.split(b"\r\n") if ln and ln not in sh.split(b"\r\n")]
        if missing:
            print(f"  header lines sent but not stored: {missing[:5]!r}")
            return 1
    at = first_diff(a, b)
    if at < 0:
        print(f"  {mode}: identical, {len(b)} bytes")
        return 0
    print(f"  {mode}: differ at byte {at} (stored {len(a)} bytes, sent {len(b)} bytes)")
    show("stored", a, at)
    show("sent", b, at)
    return 1


if __name__ == "__main__":
    sys.exit(main())
