#!/usr/bin/env python3
"""flood.py: the hostile clients of e2e/flood.sh, and the upstream they end at.

  flood.py sink PORT STATS         an SMTP sink on 127.0.0.1:PORT that accepts anything;
                                   writes {"sessions", "longest_line"} to STATS as it goes
  flood.py dh PORT SECS CONC SRC.. DH flood: CONC connections at a time, from the SRC
                                   addresses in turn, each EHLO + XCRYPT with a fresh random
                                   valid key (any value in [2, p-2]), then a reset
  flood.py idle PORT SRC COUNT SECS  COUNT connections from SRC, held SECS, saying nothing
  flood.py drip PORT SRC           EHLO, then one byte a second; how long until cut
  flood.py longline PORT SRC MB    MB megabytes without a line end; what came back
  flood.py known PORT SECS         one message a second through PORT (the outbound
                                   gateway: its fixed key pair is the known peer's)

Each client prints one JSON object. Loopback (127.0.0.0/8) only.
"""
import asyncio
import json
import os
import random
import secrets
import smtplib
import socket
import struct
import sys
import time

# The First Oakley Default Group's prime (RFC 2409 section 6.1): keys are in [2, p-2].
P = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD1"
    "29024E088A67CC74020BBEA63B139B22514A08798E3404DD"
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245"
    "E485B576625E7EC6F44C42E9A63A3620FFFFFFFFFFFFFFFF",
    16,
)


def loopback(addr):
    if not addr.startswith("127."):
        sys.exit(f"flood.py: {addr} is not in 127.0.0.0/8")
    return addr


# --- the upstream sink -------------------------------------------------------------------
class SinkStats:
    def __init__(self, path):
        self.path = path
        self.sessions = 0
        self.longest = 0
        self.last_write = 0.0

    def save(self, force=False):
        now = time.monotonic()
        if force or now - self.last_write > 0.5:
            self.last_write = now
            with open(self.path + ".tmp", "w") as f:
                json.dump({"sessions": self.sessions, "longest_line": self.longest}, f)
            os.replace(self.path + ".tmp", self.path)


async def sink_session(reader, writer, stats):
    stats.sessions += 1
    try:
        writer.write(b"220 sink.flood.test ESMTP\r\n")
        in_data = False
        while True:
            line = await reader.readuntil(b"\n")
            stats.longest = max(stats.longest, len(line))
            if in_data:
                if line in (b".\r\n", b".\n"):
                    in_data = False
                    writer.write(b"250 2.0.0 ok\r\n")
                continue
            verb = line[:4].upper()
            if verb in (b"EHLO", b"HELO"):
                writer.write(b"250-sink.flood.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n")
            elif verb == b"DATA":
                in_data = True
                writer.write(b"354 go ahead\r\n")
            elif verb == b"QUIT":
                writer.write(b"221 bye\r\n")
                await writer.drain()
                break
            else:
                writer.write(b"250 ok\r\n")
            await writer.drain()
    except asyncio.IncompleteReadError as e:
        # A line cut off by the close still counts.
        stats.longest = max(stats.longest, len(e.partial))
    except asyncio.LimitOverrunError:
        stats.longest = max(stats.longest, 1 << 24)
    except (ConnectionError, ValueError):
        pass
    finally:
        stats.save()
        writer.close()


async def sink(port, path):
    stats = SinkStats(path)
    stats.save(force=True)
    server = await asyncio.start_server(
        lambda r, w: sink_session(r, w, stats), "127.0.0.1", port, backlog=4096, limit=1 << 24
    )
    async with server:
        while True:
            await asyncio.sleep(0.5)
            stats.save(force=True)


# --- attackers ---------------------------------------------------------------------------
async def read_reply(reader):
    lines = []
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("closed")
        lines.append(line)
        if len(line) < 4 or line[3:4] != b"-":
            return int(line[:3]), lines


def reset(writer):
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    writer.close()


async def dh_one(port, src, counts):
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(src, 0))
    except OSError:
        counts["connect_failed"] += 1
        await asyncio.sleep(0.01)
        return
    try:
        code, _ = await asyncio.wait_for(read_reply(reader), 10)
        if code != 220:
            counts[f"greeting_{code}"] += 1
            return
        writer.write(b"EHLO attacker.flood.test\r\n")
        code, lines = await asyncio.wait_for(read_reply(reader), 10)
        offer = [l for l in lines if l[4:].upper().startswith(b"XCRYPT")]
        if code != 250 or not offer:
            counts["no_offer"] += 1
            return
        # "250 XCRYPT <versions, preferred first>" (docs/xcrypt.md §6.3).
        words = offer[0].split()
        version = words[2].decode() if len(words) > 2 else "t32_1.0"
        key = random.randrange(2, P - 1)
        line = f"XCRYPT {version} {key:0192x} {secrets.token_hex(10)}\r\n"
        writer.write(line.encode())
        code, _ = await asyncio.wait_for(read_reply(reader), 10)
        counts[f"xcrypt_{code}"] += 1
    except (ConnectionError, asyncio.TimeoutError, OSError, ValueError):
        counts["dropped"] += 1
    finally:
        reset(writer)


async def dh(port, secs, conc, sources):
    from collections import Counter

    counts = Counter()
    end = time.monotonic() + secs
    start = time.monotonic()

    async def worker(i):
        n = 0
        while time.monotonic() < end:
            await dh_one(port, sources[(i + n) % len(sources)], counts)
            n += 1

    await asyncio.gather(*(worker(i) for i in range(conc)))
    took = time.monotonic() - start
    keys = counts.get("xcrypt_250", 0)
    print(json.dumps({"secs": round(took, 2), "new_keys_per_sec": round(keys / took, 1), **counts}))


async def idle(port, src, count, secs):
    from collections import Counter

    codes = Counter()
    conns = []

    async def one():
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(src, 0))
        except OSError as e:
            codes[f"connect_failed:{e.errno}"] += 1
            return
        conns.append(writer)
        try:
            code, _ = await asyncio.wait_for(read_reply(reader), 10)
            codes[str(code)] += 1
        except (ConnectionError, asyncio.TimeoutError, ValueError):
            codes["no_greeting"] += 1

    # In waves, so the listener's backlog is not the limit being tested.
    for i in range(0, count, 100):
        await asyncio.gather(*(one() for _ in range(min(100, count - i))))
    print(json.dumps({"event": "held", "connections": len(conns), **codes}), flush=True)
    await asyncio.sleep(secs)
    for w in conns:
        reset(w)
    print(json.dumps({"event": "released", "connections": len(conns), **codes}), flush=True)


async def drip(port, src):
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(src, 0))
    await read_reply(reader)
    writer.write(b"EHLO drip.flood.test\r\n")
    await read_reply(reader)
    start = time.monotonic()
    sent = 0
    heard = b""
    for b in b"MAIL FROM:<slow@drip.flood.test>" * 10:
        try:
            writer.write(bytes([b]))
            await writer.drain()
            sent += 1
            heard = await asyncio.wait_for(reader.read(4096), 1.0)
            if heard is not None:
                break
        except asyncio.TimeoutError:
            continue
        except (ConnectionError, OSError):
            break
    print(json.dumps({"cut_after_secs": round(time.monotonic() - start, 2), "bytes_sent": sent,
                      "heard": heard.decode("ascii", "replace").strip()}))
    reset(writer)


async def longline(port, src, mb):
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(src, 0))
    await read_reply(reader)
    start = time.monotonic()
    chunk = b"L" * 65536
    total = mb << 20

    async def send():
        sent = 0
        try:
            while sent < total:
                writer.write(chunk)
                await writer.drain()
                sent += len(chunk)
        except (ConnectionError, OSError):
            pass
        return sent

    sending = asyncio.ensure_future(send())
    try:
        heard = await asyncio.wait_for(reader.read(4096), 30)
    except (asyncio.TimeoutError, ConnectionError):
        heard = b""
    answered = time.monotonic() - start
    sending.cancel()
    print(json.dumps({"answered_after_secs": round(answered, 2),
                      "heard": heard.decode("ascii", "replace").strip()}))
    reset(writer)


def known(port, secs):
    ok = failed = 0
    end = time.monotonic() + secs
    while time.monotonic() < end:
        t = time.monotonic()
        try:
            with smtplib.SMTP("127.0.0.1", port, local_hostname="known.flood.test", timeout=30) as s:
                s.sendmail("known@flood.test", ["rcpt@flood.test"],
                           b"Subject: known peer\r\n\r\nhello\r\n")
            ok += 1
        except (smtplib.SMTPException, OSError) as e:
            failed += 1
            print(f"known: {e}", file=sys.stderr)
        time.sleep(max(0.0, 1.0 - (time.monotonic() - t)))
    print(json.dumps({"sent": ok, "failed": failed}))


def main(argv):
    cmd, rest = argv[1], argv[2:]
    if cmd == "sink":
        asyncio.run(sink(int(rest[0]), rest[1]))
    elif cmd == "dh":
        asyncio.run(dh(int(rest[0]), float(rest[1]), int(rest[2]), [loopback(a) for a in rest[3:]]))
    elif cmd == "idle":
        asyncio.run(idle(int(rest[0]), loopback(rest[1]), int(rest[2]), float(rest[3])))
    elif cmd == "drip":
        asyncio.run(drip(int(rest[0]), loopback(rest[1])))
    elif cmd == "longline":
        asyncio.run(longline(int(rest[0]), loopback(rest[1]), int(rest[2])))
    elif cmd == "known":
        known(int(rest[0]), float(rest[1]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
