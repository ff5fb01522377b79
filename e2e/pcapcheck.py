#!/usr/bin/env python3
"""pcapcheck.py: reassemble the TCP streams of a classic pcap (tcpdump -w) and search them.
Standard library only.

usage: pcapcheck.py PCAP --port PORT [--after-switch] [--absent S]... [--present S]...
                         [--one-segment S]...

Only connections with PORT at one end are looked at; the end with PORT is the server.
Each direction of each connection is rebuilt in sequence order (from the SYN when it was
captured), retransmissions counted once.

  --after-switch   XCRYPT: in every connection, search the client->server stream only after
                   the client's "XCRYPT OK\\r\\n" and the server->client stream only after
                   "250 XCRYPT OK\\r\\n"; a connection with data but without both switch
                   points fails (the session was not encrypted)
  --absent S       S must not occur in any searched stream (after the switch, with
                   --after-switch; anywhere, without)
  --present S      S must occur somewhere (whole streams; the positive control)
  --one-segment S  some single client->server segment contains every such S (evidence of
                   pipelining: MAIL, RCPT and DATA sent in one write)

Prints what it found and exits 0 when every condition holds, 1 when one does not, 2 when
the capture cannot be read or is incomplete (a gap in a stream: absence would prove nothing).
"""
import argparse
import struct
import sys
from collections import defaultdict

MOD = 1 << 32


def read_packets(path):
    with open(path, "rb") as f:
        hdr = f.read(24)
        if len(hdr) < 24:
            raise ValueError("not a pcap file (short header)")
        magic = hdr[:4]
        if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
            e = "<"
        elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
            e = ">"
        else:
            raise ValueError(f"not a classic pcap file (magic {magic.hex()}); pcapng is not read")
        linktype = struct.unpack(e + "I", hdr[20:24])[0] & 0x0FFFFFFF
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                return
            _sec, _frac, caplen, origlen = struct.unpack(e + "IIII", rec)
            data = f.read(caplen)
            if len(data) < caplen:
                return  # capture cut off mid-record (tcpdump killed while writing)
            yield linktype, data, caplen < origlen


def ip_payload(linktype, pkt):
    """(ethertype-like version, ip packet) or None."""
    if linktype == 1:  # Ethernet (tcpdump -i lo)
        etype, off = struct.unpack(">H", pkt[12:14])[0], 14
        if etype == 0x8100:  # one VLAN tag
            etype, off = struct.unpack(">H", pkt[16:18])[0], 18
    elif linktype == 113:  # Linux cooked v1 (-i any)
        etype, off = struct.unpack(">H", pkt[14:16])[0], 16
    elif linktype == 276:  # Linux cooked v2
        etype, off = struct.unpack(">H", pkt[0:2])[0], 20
    elif linktype == 0:  # BSD loopback
        fam = struct.unpack("<I", pkt[:4])[0]
        etype, off = (0x0800 if fam == 2 else 0x86DD), 4
    elif linktype in (12, 101, 228, 229):  # raw IP
        etype, off = (0x0800 if pkt[0] >> 4 == 4 else 0x86DD), 0
    else:
        raise ValueError(f"unsupported link type {linktype}")
    return etype, pkt[off:]


def tcp_segments(path):
    """Yield (src, dst, sport, dport, seq, flags, payload, truncated) per TCP packet."""
    for linktype, pkt, truncated in read_packets(path):
        etype, ip = ip_payload(linktype, pkt)
        if etype == 0x0800 and len(ip) >= 20 and ip[9] == 6:
            ihl = (ip[0] & 15) * 4
            total = struct.unpack(">H", ip[2:4])[0]
            src, dst = ".".join(map(str, ip[12:16])), ".".join(map(str, ip[16:20]))
            tcp = ip[ihl:total] if total else ip[ihl:]  # total 0: TSO on capture
        elif etype == 0x86DD and len(ip) >= 40 and ip[6] == 6:
            plen = struct.unpack(">H", ip[4:6])[0]
            src, dst = ip[8:24].hex(), ip[24:40].hex()
            tcp = ip[40:40 + plen]
        else:
            continue
        if len(tcp) < 20:
            continue
        sport, dport, seq = struct.unpack(">HHI", tcp[:8])
        doff = (tcp[12] >> 4) * 4
        flags = tcp[13]
        yield src, dst, sport, dport, seq, flags, tcp[doff:], truncated


class Direction:
    def __init__(self):
        self.isn = None
        self.segs = {}  # seq -> payload (first copy wins)
        self.order = []  # payloads in capture order (for --one-segment)
        self.truncated = False

    def stream(self):
        """(bytes, number of gaps)"""
        if not self.segs:
            return b"", 0
        base = (self.isn + 1) % MOD if self.isn is not None else min(self.segs)
        buf = bytearray()
        gaps = 0
        for rel, data in sorted(((s - base) % MOD, d) for s, d in self.segs.items()):
            if rel > len(buf):
                gaps += 1
                buf += b"\0" * (rel - len(buf))
            end = rel + len(data)
            if end > len(buf):
                buf[rel:end] = data
        return bytes(buf), gaps


def collect(path, port):
    conns = defaultdict(lambda: {"c2s": Direction(), "s2c": Direction()})
    for src, dst, sport, dport, seq, flags, payload, truncated in tcp_segments(path):
        if dport == port:
            key, way = (src, sport, dst, dport), "c2s"
        elif sport == port:
            key, way = (dst, dport, src, sport), "s2c"
        else:
            continue
        d = conns[key][way]
        if flags & 0x02:  # SYN
            d.isn = seq
        if payload:
            d.segs.setdefault(seq, payload)
            d.order.append(payload)
        d.truncated |= truncated
    return conns


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("pcap")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--after-switch", action="store_true")
    ap.add_argument("--absent", action="append", default=[])
    ap.add_argument("--present", action="append", default=[])
    ap.add_argument("--one-segment", action="append", default=[])
    a = ap.parse_args()
    try:
        conns = collect(a.pcap, a.port)
    except (OSError, ValueError) as err:
        print(f"pcapcheck: cannot read {a.pcap}: {err}")
        return 2

    ok, incomplete = True, False
    found_present = {s: 0 for s in a.present}
    found_absent = {s: [] for s in a.absent}
    one_segment_hit = False
    if not conns:
        print(f"pcapcheck: no TCP connection on port {a.port} in the capture")
        return 1
    for key, dirs in sorted(conns.items()):
        name = f"{key[0]}:{key[1]}->{key[2]}:{key[3]}"
        c2s, c2s_gaps = dirs["c2s"].stream()
        s2c, s2c_gaps = dirs["s2c"].stream()
        if c2s_gaps or s2c_gaps or dirs["c2s"].truncated or dirs["s2c"].truncated:
            print(f"  {name}: capture incomplete (gaps {c2s_gaps}/{s2c_gaps}, or truncated packets)")
            incomplete = True
        searched = {"c2s": c2s, "s2c": s2c}
        note = ""
        if a.after_switch and (c2s or s2c):
            ci = find_line(c2s, b"XCRYPT OK\r\n")
            si = find_line(s2c, b"250 XCRYPT OK\r\n")
            if ci is None or si is None:
                print(f"  {name}: no XCRYPT switch point (client {'found' if ci is not None else 'missing'},"
                      f" server {'found' if si is not None else 'missing'}): this session was plaintext")
                ok = False
                ci = 0 if ci is None else ci
                si = 0 if si is None else si
            searched = {"c2s": c2s[ci:], "s2c": s2c[si:]}
            note = f", after switch {len(searched['c2s'])}/{len(searched['s2c'])}"
        print(f"  {name}: client->server {len(c2s)} bytes, server->client {len(s2c)} bytes{note}")
        for s in a.present:
            if s.encode() in c2s or s.encode() in s2c:
                found_present[s] += 1
        for s in a.absent:
            for way, data in searched.items():
                if s.encode() in data:
                    found_absent[s].append(f"{name} {way}")
        if a.one_segment:
            needles = [s.encode() for s in a.one_segment]
            if any(all(n in seg for n in needles) for seg in dirs["c2s"].order):
                one_segment_hit = True

    for s, n in found_present.items():
        print(f"  present {s!r}: in {n} connection(s)")
        ok &= n > 0
    for s, where in found_absent.items():
        print(f"  absent {s!r}: {'FOUND in ' + ', '.join(where) if where else 'not found'}")
        ok &= not where
    if a.one_segment:
        print(f"  one client segment with {a.one_segment!r}: {'yes' if one_segment_hit else 'no'}")
        ok &= one_segment_hit
    if incomplete:
        return 2
    return 0 if ok else 1


def find_line(data, line):
    """Offset just past the first occurrence of LINE at the start of a line, or None."""
    i = 0
    while True:
        j = data.find(line, i)
        if j < 0:
            return None
        if j == 0 or data[j - 1:j] == b"\n":
            return j + len(line)
        i = j + 1


if __name__ == "__main__":
    sys.exit(main())
