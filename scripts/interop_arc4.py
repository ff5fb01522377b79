#!/usr/bin/env python3
"""Checks `ssmail encrypt --raw --cipher arrsyfor` against an outside RC4: the ARC4 of
Python's `cryptography` package (OpenSSL underneath).

Usage: interop_arc4.py PATH_TO_SSMAIL [SEED] [CASES]

Prints one summary line and exits 1 on any mismatch, 2 on a usage or setup error.

cryptography's ARC4 only takes the key sizes in `ARC4.key_sizes` (5, 7, 8, 10, 16, 20,
24 and 32 bytes), while arrsyfor takes 1..=256. Half the cases use those sizes through the
public API. The other half draw lengths from 1..=256; for lengths cryptography refuses,
the ARC4 object is made without its constructor so that the length check is skipped and
OpenSSL's RC4, which takes any key length, is keyed directly. If a future cryptography
stops allowing that, those cases are counted as skipped, not as passed.
"""

import os
import random
import subprocess
import sys

try:
    # cryptography >= 43 moved ARC4 here.
    from cryptography.hazmat.decrepit.ciphers.algorithms import ARC4
except ImportError:
    from cryptography.hazmat.primitives.ciphers.algorithms import ARC4
from cryptography.hazmat.primitives.ciphers import Cipher

MAX_DATA = 100_000


def arc4_algorithm(key):
    """An ARC4 keyed with `key`, or None if this cryptography cannot be keyed with it."""
    if len(key) * 8 in ARC4.key_sizes:
        return ARC4(key)
    algorithm = ARC4.__new__(ARC4)
    try:
        algorithm.key = key
    except Exception:  # noqa: BLE001 - any refusal just means "cannot check this length"
        return None
    return algorithm


def arc4_encrypt(key, data):
    algorithm = arc4_algorithm(key)
    if algorithm is None:
        return None
    try:
        encryptor = Cipher(algorithm, mode=None).encryptor()
        return encryptor.update(data) + encryptor.finalize()
    except Exception:  # noqa: BLE001
        if len(key) * 8 in ARC4.key_sizes:
            raise
        return None


def ssmail_encrypt(binary, key, data):
    result = subprocess.run(
        [binary, "encrypt", "--raw", "--cipher", "arrsyfor", "--key-hex", key.hex()],
        input=data,
        capture_output=True,
        check=False,
    )
    if result.returncode != 0 or result.stderr:
        raise RuntimeError(
            f"ssmail exited {result.returncode}: {result.stderr.decode(errors='replace').strip()}"
        )
    return result.stdout


def first_difference(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b))


def main(argv):
    if len(argv) < 2 or len(argv) > 4:
        print(next(l for l in __doc__.splitlines() if l.startswith("Usage:")), file=sys.stderr)
        return 2
    binary = argv[1]
    seed = int(argv[2]) if len(argv) > 2 else int.from_bytes(os.urandom(8), "big")
    cases = int(argv[3]) if len(argv) > 3 else 200
    rng = random.Random(seed)
    api_lengths = sorted(bits // 8 for bits in ARC4.key_sizes)

    passed = failed = skipped = 0
    for case in range(cases):
        if case % 2 == 0:
            key_len = rng.choice(api_lengths)
        else:
            key_len = rng.randint(1, 256)
        key = rng.randbytes(key_len)
        data = rng.randbytes(rng.randint(0, MAX_DATA))

        expected = arc4_encrypt(key, data)
        if expected is None:
            skipped += 1
            continue
        try:
            got = ssmail_encrypt(binary, key, data)
        except (OSError, RuntimeError) as e:
            print(f"case {case}: {e}", file=sys.stderr)
            failed += 1
            continue
        if got == expected:
            passed += 1
        else:
            failed += 1
            print(
                f"case {case}: key of {key_len} bytes, {len(data)} bytes of data: "
                f"{len(got)} bytes out, first difference at byte {first_difference(got, expected)}",
                file=sys.stderr,
            )

    summary = f"arc4 interop: {passed} passed, {failed} failed"
    if skipped:
        summary += f", {skipped} skipped"
    print(f"{summary} (seed {seed})")
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
