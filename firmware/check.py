#!/usr/bin/env python3
"""Recomputes every line of the firmware's output on the host, from the line's own inputs,
and checks the inputs against the seed: exit status 0 only if every line is right, every
kind of line is there, and `done` ends the output.

Independent of our code: the public key and shared secret with Python's pow() over the
Oakley group 1 prime (RFC 2409 §6.1, as docs/xcrypt.md §1 gives it), the key derivation
with hashlib.sha1 as docs/xcrypt.md §3 defines it, RC4 (arrsyfor_1.0) from the
`cryptography` package. The t32_1.0 keystream has no outside implementation here, so it
comes from our host build (`ssmail encrypt --raw --cipher t32`, path given by --ssmail),
which the ciphers' tests hold to the published SOBER-t32 vectors.

Usage: check.py OUTPUT_FILE --ssmail PATH_TO_SSMAIL_BINARY
"""

import argparse
import hashlib
import subprocess
import sys

P = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD1"
    "29024E088A67CC74020BBEA63B139B22514A08798E3404DD"
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245"
    "E485B576625E7EC6F44C42E9A63A3620FFFFFFFFFFFFFFFF",
    16,
)
MASK64 = (1 << 64) - 1


class Inputs:
    """The firmware's input stream (src/inputs.rs): xorshift64*, 8 bytes little-endian
    per draw, a chunk of fewer than 8 bytes taking the first bytes of a draw."""

    def __init__(self, seed):
        self.s = seed if seed else 0x9E3779B97F4A7C15

    def next_u64(self):
        s = self.s
        s ^= s >> 12
        s ^= (s << 25) & MASK64
        s ^= s >> 27
        self.s = s
        return (s * 0x2545F4914F6CDD1D) & MASK64

    def bytes(self, n):
        out = b""
        while len(out) < n:
            out += self.next_u64().to_bytes(8, "little")[: min(8, n - len(out))]
        return out

    def private_key(self):
        while True:
            k = self.bytes(96)
            if 2 <= int.from_bytes(k, "big") <= P - 2:
                return k


def rc4(key, n):
    try:
        from cryptography.hazmat.decrepit.ciphers.algorithms import ARC4
    except ImportError:  # cryptography < 43
        from cryptography.hazmat.primitives.ciphers.algorithms import ARC4
    from cryptography.hazmat.primitives.ciphers import Cipher

    return Cipher(ARC4(key), mode=None).encryptor().update(bytes(n))


def t32(ssmail, key, n):
    run = subprocess.run(
        [ssmail, "encrypt", "--raw", "--cipher", "t32", "--key-hex", key.hex()],
        input=bytes(n),
        capture_output=True,
        check=True,
    )
    return run.stdout


def num(b):
    return int.from_bytes(b, "big")


def check(lines, ssmail):
    """Yields an error message for each thing wrong."""
    body = [l for l in lines if not l.startswith("#")]
    if not body or not body[0].startswith("seed "):
        yield "the first line is not the seed"
        return
    inputs = Inputs(int(body[0].split()[1], 16))
    if body[-1] != "done":
        yield "the output does not end with done"
    # Draws in the order src/main.rs makes them.
    expect_keys = {"arrsyfor_1.0": inputs.bytes(10), "t32_1.0": inputs.bytes(10)}
    expect_private = [inputs.private_key(), inputs.private_key()]
    expect_nonces = (inputs.bytes(10), inputs.bytes(10))
    seen = {"ks": set(), "pub": 0, "dh": 0, "kdf": 0, "xcrypt": set()}
    for n, line in enumerate(body[1:-1], start=2):
        f = line.split(" ")
        where = f"line {n} ({f[0]})"
        try:
            if f[0] == "ks" and len(f) == 5:
                version, key, count, ks = f[1], bytes.fromhex(f[2]), int(f[3]), bytes.fromhex(f[4])
                if key != expect_keys.get(version):
                    yield f"{where}: the key is not the seed's"
                want = {"arrsyfor_1.0": rc4, "t32_1.0": lambda k, c: t32(ssmail, k, c)}[version](key, count)
                if len(ks) != count or ks != want:
                    yield f"{where}: {version} keystream differs from the host's"
                seen["ks"].add(version)
            elif f[0] == "pub" and len(f) == 3:
                r, k = (bytes.fromhex(x) for x in f[1:])
                if r != expect_private[seen["pub"] % 2]:
                    yield f"{where}: the private key is not the seed's"
                if len(k) != 96 or num(k) != pow(2, num(r), P):
                    yield f"{where}: public key is not 2^r mod p"
                seen["pub"] += 1
            elif f[0] == "dh" and len(f) == 4:
                r, peer, z = (bytes.fromhex(x) for x in f[1:])
                if r not in expect_private:
                    yield f"{where}: the private key is not the seed's"
                if len(z) != 96 or num(z) != pow(num(peer), num(r), P):
                    yield f"{where}: shared secret is not peer^r mod p"
                seen["dh"] += 1
            elif f[0] == "kdf" and len(f) == 6:
                z, na, nb, kc, ks = (bytes.fromhex(x) for x in f[1:])
                if (na, nb) != expect_nonces:
                    yield f"{where}: the nonces are not the seed's"
                h = hashlib.sha1(z + na + nb).digest()
                if len(z) != 96 or (kc, ks) != (h[:10], h[10:20]):
                    yield f"{where}: direction keys are not SHA-1(Z || Na || Nb) split 10/10"
                seen["kdf"] += 1
            elif f[:2] == ["xcrypt", "ok"] and len(f) == 3:
                seen["xcrypt"].add(f[2])
            else:
                yield f"{where}: not a line the firmware prints: {line[:80]}"
        except (ValueError, KeyError, IndexError) as e:
            yield f"{where}: malformed ({e!r}): {line[:80]}"
    if seen["ks"] != {"arrsyfor_1.0", "t32_1.0"}:
        yield f"keystream lines for both ciphers expected, got {sorted(seen['ks'])}"
    if (seen["pub"], seen["dh"], seen["kdf"]) != (2, 2, 1):
        yield f"2 pub, 2 dh and 1 kdf lines expected, got {seen['pub']}, {seen['dh']}, {seen['kdf']}"
    if seen["xcrypt"] != {"arrsyfor_1.0", "t32_1.0"}:
        yield f"xcrypt ok for both versions expected, got {sorted(seen['xcrypt'])}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("output")
    ap.add_argument("--ssmail", required=True, help="the host ssmail binary (for t32)")
    args = ap.parse_args()
    with open(args.output, encoding="ascii", errors="replace") as f:
        lines = [l.rstrip("\n") for l in f if l.strip()]
    errors = list(check(lines, args.ssmail))
    for e in errors:
        print(f"check: {e}", file=sys.stderr)
    checked = sum(1 for l in lines if not l.startswith("#"))
    if errors:
        print(f"check: FAILED, {len(errors)} problem(s) in {checked} lines", file=sys.stderr)
        return 1
    print(f"check: all {checked} lines recomputed on the host and equal; done reached")
    return 0


if __name__ == "__main__":
    sys.exit(main())
