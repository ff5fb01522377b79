#!/usr/bin/env bash
# Builds the firmware (Debian's rustc 1.85, -Zbuild-std=core, thumbv7em-none-eabihf,
# linked by Debian's ld.lld) and runs it on QEMU's mps2-an386 (Cortex-M4F), printing its
# output. Needs: qemu-system-arm, lld, rust-web-src (Debian packages); python3 with
# `cryptography` for --check.
#
#   firmware/run.sh [--seed HEX] [--check] [--self-test] [--sizes]
#
#   --seed HEX    the inputs' seed, 1 to 16 hex digits (built in; default: fixed)
#   --check       recompute every line on the host (check.py; builds the host `ssmail`
#                 binary for the t32 keystream) and fail on any difference
#   --self-test   also prove the check can fail: each kind of line, corrupted in one
#                 digit, must be refused
#   --sizes       print flash and RAM of the image and of the empty image (same runtime,
#                 no ssmail), and the difference
#
# After the firmware's output it runs the peers image (instructions of ssmail beside the
# rc4 crate and crypto-bigint, same inputs).
#
# Exit status: non-zero if the build fails, the firmware exits non-zero or hangs (QEMU
# is stopped after 300 s), or a check fails.
set -euo pipefail
cd "$(dirname "$0")"

seed="" check=0 selftest=0 sizes=0
while [ $# -gt 0 ]; do
  case "$1" in
    --seed) seed=${2:?--seed needs a value}; shift 2 ;;
    --check) check=1; shift ;;
    --self-test) check=1; selftest=1; shift ;;
    --sizes) sizes=1; shift ;;
    *) echo "usage: $0 [--seed HEX] [--check] [--self-test] [--sizes]" >&2; exit 2 ;;
  esac
done
if [ -n "$seed" ] && ! [[ "$seed" =~ ^[0-9a-fA-F]{1,16}$ ]]; then
  echo "--seed: 1 to 16 hex digits" >&2
  exit 2
fi

export RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 SSMAIL_FW_SEED="$seed"
unset RUSTDOC CARGO_TARGET_DIR
cargo build --release --locked -q --bins -Zbuild-std=core
elf=target/thumbv7em-none-eabihf/release
out=target/output.txt

# -icount shift=0: one instruction per nanosecond of virtual time, which is what the
# firmware's SysTick instruction counts rely on.
qemu() {
  timeout 300 qemu-system-arm -M mps2-an386 -nographic -monitor none -serial none \
    -icount shift=0 -semihosting-config enable=on,target=native -kernel "$1"
}
status=0
qemu "$elf/ssmail-firmware" >"$out" || status=$?
cat "$out"
if [ "$status" != 0 ]; then
  echo "run.sh: the firmware exited with status $status" >&2
  exit 1
fi

# The peers image: instruction counts of ssmail beside the rc4 crate and crypto-bigint
# in the same run, their results compared inside (src/bin/peers.rs).
status=0
qemu "$elf/peers" >target/peers.txt || status=$?
echo "peers (src/bin/peers.rs, same inputs):"
sed 's/^/  /' target/peers.txt
if [ "$status" != 0 ]; then
  echo "run.sh: the peers image exited with status $status" >&2
  exit 1
fi

if [ "$sizes" = 1 ]; then
  qemu "$elf/empty" >/dev/null
  python3 - "$elf/ssmail-firmware" "$elf/empty" <<'PY'
import subprocess, sys
def sections(path):
    rows = subprocess.run(["size", "-A", path], capture_output=True, text=True, check=True).stdout
    return {f[0]: int(f[1]) for f in (l.split() for l in rows.splitlines()) if len(f) == 3 and f[1].isdigit()}
full, empty = sections(sys.argv[1]), sections(sys.argv[2])
def flash(s): return s.get(".vector_table", 0) + s[".text"] + s[".rodata"]
def ram(s): return s[".data"] + s[".bss"] + s.get(".uninit", 0)
print("sizes (bytes; flash = .vector_table+.text+.rodata, RAM = .data+.bss; size -A):")
print(f"  {'image':<24}{'.text':>8}{'.rodata':>9}{'flash':>8}{'.data':>7}{'.bss':>6}{'RAM':>6}")
for name, s in (("firmware", full), ("empty (runtime only)", empty)):
    print(f"  {name:<24}{s['.text']:>8}{s['.rodata']:>9}{flash(s):>8}{s['.data']:>7}{s['.bss']:>6}{ram(s):>6}")
d = {k: full[k] - empty.get(k, 0) for k in (".text", ".rodata", ".data", ".bss")}
print(f"  {'ssmail part (difference)':<24}{d['.text']:>8}{d['.rodata']:>9}{flash(full) - flash(empty):>8}"
      f"{d['.data']:>7}{d['.bss']:>6}{ram(full) - ram(empty):>6}")
PY
fi

if [ "$check" = 1 ]; then
  # The host build of the CLI, for the t32 keystream (the default toolchain, not 1.85).
  (cd .. && env -u RUSTC -u RUSTC_BOOTSTRAP -u SSMAIL_FW_SEED cargo build --locked -q -p ssmail --bin ssmail)
  ssmail=$(cd .. && pwd)/target/debug/ssmail
  python3 check.py "$out" --ssmail "$ssmail"
fi

if [ "$selftest" = 1 ]; then
  # Each line (the seed's included) with one digit of its last field changed, `xcrypt ok`
  # made `xcrypt failed`, and `done` removed: every one must be refused, or the check
  # proves nothing.
  count=$(grep -vc '^#' "$out")
  for ((i = 0; i < count; i++)); do
    bad=target/output-bad.txt
    python3 - "$out" "$bad" "$i" <<'PY'
import sys
lines = [l for l in open(sys.argv[1]).read().splitlines() if not l.startswith("#")]
i = int(sys.argv[3])
if lines[i] == "done":
    del lines[i]
elif lines[i].startswith("xcrypt ok"):
    lines[i] = lines[i].replace("xcrypt ok", "xcrypt failed")
else:
    last = lines[i][-1]
    lines[i] = lines[i][:-1] + ("0" if last != "0" else "1")
open(sys.argv[2], "w").write("\n".join(lines) + "\n")
PY
    if python3 check.py "$bad" --ssmail "$ssmail" 2>"$bad.err" >/dev/null; then
      echo "run.sh --self-test: output line $((i + 1)) corrupted passed the check" >&2
      exit 1
    fi
    echo "self-test: line $((i + 1)) corrupted, refused: $(head -1 "$bad.err")"
  done
fi
