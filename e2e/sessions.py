#!/usr/bin/env python3
"""sessions.py: read the gateway's JSON session lines (`--log-format json`, stderr).

  sessions.py LOG --count                 print how many session lines LOG has now
  sessions.py LOG --after N [--want K] [--timeout S] [--expect KEY=VALUE | KEY!=VALUE]...

The second form waits (up to S seconds, default 10) until LOG holds at least N+K session
lines, prints session lines N+1 .. N+K in short form, and checks every --expect against
each of them. VALUE is read as JSON when it parses (true, false, null, 12) and as a string
otherwise; `suite!=null` means "a suite is named". Exit 0 when all hold, 1 when one does
not, 3 on timeout. Lines that are not JSON objects with "event": "session" are skipped
(the listening line, warnings).
"""
import argparse
import json
import sys
import time

SHORT = ("mode", "xcrypt", "suite", "cache", "fallback", "result",
         "from_client", "to_upstream", "from_upstream", "to_client", "ms")


def sessions(path):
    out = []
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                line = line.strip()
                if not line.startswith("{"):
                    continue
                try:
                    obj = json.loads(line)
                except ValueError:
                    continue
                if isinstance(obj, dict) and obj.get("event") == "session":
                    out.append(obj)
    except FileNotFoundError:
        pass
    return out


def parse_expect(text):
    for op in ("!=", "="):
        if op in text:
            key, val = text.split(op, 1)
            try:
                val = json.loads(val)
            except ValueError:
                pass
            return key, op, val
    raise SystemExit(f"bad --expect {text!r}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("log")
    ap.add_argument("--count", action="store_true")
    ap.add_argument("--after", type=int, default=0)
    ap.add_argument("--want", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("--expect", action="append", default=[])
    a = ap.parse_args()
    if a.count:
        print(len(sessions(a.log)))
        return 0
    deadline = time.monotonic() + a.timeout
    while True:
        got = sessions(a.log)
        if len(got) >= a.after + a.want:
            break
        if time.monotonic() > deadline:
            print(f"  timeout: {len(got) - a.after} of {a.want} new session line(s) after {a.timeout}s in {a.log}")
            return 3
        time.sleep(0.05)
    ok = True
    expects = [parse_expect(e) for e in a.expect]
    for s in got[a.after:a.after + a.want]:
        print("  session: " + " ".join(f"{k}={json.dumps(s.get(k))}" for k in SHORT if k in s))
        for key, op, val in expects:
            if key not in s:
                print(f"  field {key!r} missing")
                ok = False
            elif (s[key] == val) != (op == "="):
                print(f"  expected {key}{op}{json.dumps(val)}, got {key}={json.dumps(s[key])}")
                ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
