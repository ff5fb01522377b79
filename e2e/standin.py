#!/usr/bin/env python3
"""standin.py: a plain TCP forwarder with the command line of `ssmail gateway`.

For developing and self-testing the harness only: `SSMAIL_E2E_STANDIN=1 bash
e2e/gateway.sh` runs the suite with this in place of the gateway. It speaks no XCRYPT,
so the XCRYPT checks must FAIL (the capture check sees the canaries, the session lines
say xcrypt=false): that is the suite's negative control. It logs JSON session lines
shaped like the gateway's and answers 421 4.4.1 when the upstream is down."""
import argparse
import asyncio
import json
import sys
import time

try:
    import tomllib
except ImportError:  # Python < 3.11
    tomllib = None


def hostport(text):
    host, _, port = text.rpartition(":")
    return host, int(port)


async def pump(reader, writer, counter, key):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            counter[key] += len(data)
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            writer.write_eof()
        except (OSError, RuntimeError):
            pass


def serve(mode, upstream):
    async def handle(cr, cw):
        start = time.monotonic()
        n = {"c": 0, "u": 0}
        result = "ok"
        try:
            ur, uw = await asyncio.open_connection(*hostport(upstream))
        except OSError:
            cw.write(b"421 4.4.1 upstream unavailable\r\n")
            await cw.drain()
            cw.close()
            result = "upstream-down"
        else:
            await asyncio.gather(pump(cr, uw, n, "c"), pump(ur, cw, n, "u"))
            uw.close()
            cw.close()
        peer = cw.get_extra_info("peername")
        print(json.dumps({"event": "session", "mode": mode, "peer": f"{peer[0]}:{peer[1]}",
                          "upstream": upstream, "xcrypt": False, "suite": None, "cache": None,
                          "fallback": "standin", "from_client": n["c"], "to_upstream": n["c"],
                          "from_upstream": n["u"], "to_client": n["u"],
                          "ms": int((time.monotonic() - start) * 1000), "result": result}),
              file=sys.stderr, flush=True)
    return handle


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("gateway")
    ap.add_argument("mode", choices=["inbound", "outbound"])
    ap.add_argument("--listen")
    ap.add_argument("--upstream")
    ap.add_argument("--config")
    ap.add_argument("--log-format", default="text")
    ap.add_argument("--require-xcrypt", action="store_true")
    a = ap.parse_args()
    routes = []
    if a.listen:
        routes.append((a.listen, a.upstream))
    if a.config and tomllib:
        with open(a.config, "rb") as f:
            for r in tomllib.load(f).get("route", []):
                routes.append((r["listen"], r["upstream"]))
    servers = []
    for listen, upstream in routes:
        servers.append(await asyncio.start_server(serve(a.mode, upstream), *hostport(listen)))
        print(f"ssmail gateway: listening mode={a.mode} listen={listen} upstream={upstream}",
              file=sys.stderr, flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
