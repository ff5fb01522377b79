#!/usr/bin/env bash
# Proves that a rewrite of the generated Pentium assembly changed its text and not the
# code: assembles bigint-x86/src/backends/x86_p5.s as committed at REV (default HEAD)
# and as it is in the working tree, with GNU as and with LLVM's assembler (llvm-mc, the
# one rustc's global_asm! uses), and fails unless the .text bytes and the symbols
# (address, size, name) are the same.
#
#   bash bigint-x86/asmgen/same_code.sh [REV]
#
# Run it from the repository root. Needs binutils and llvm-mc (Debian: binutils, llvm).
set -euo pipefail

rev=${1:-HEAD}
src=bigint-x86/src/backends/x86_p5.s
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

git show "$rev:$src" > "$dir/old.body"
cp "$src" "$dir/new.body"
status=0
for side in old new; do
  # global_asm! reads Intel syntax; a standalone assembler needs to be told.
  { echo '    .intel_syntax noprefix'; cat "$dir/$side.body"; } > "$dir/$side.s"
  as --32 -o "$dir/$side.gnu.o" "$dir/$side.s"
  llvm-mc --triple=i586-unknown-linux-gnu --filetype=obj -o "$dir/$side.llvm.o" "$dir/$side.s"
  for asm in gnu llvm; do
    objcopy -O binary --only-section=.text "$dir/$side.$asm.o" "$dir/$side.$asm.text"
    nm -S --defined-only "$dir/$side.$asm.o" | sort > "$dir/$side.$asm.syms"
  done
done
for asm in gnu llvm; do
  if cmp -s "$dir/old.$asm.text" "$dir/new.$asm.text" && cmp -s "$dir/old.$asm.syms" "$dir/new.$asm.syms"; then
    printf 'same_code: %s: .text identical (%d bytes), symbols identical (%d)\n' \
      "$asm" "$(stat -c %s "$dir/new.$asm.text")" "$(wc -l < "$dir/new.$asm.syms")"
  else
    echo "same_code: $asm: the code differs between $rev and the working tree"
    diff <(objdump -d -M intel "$dir/old.$asm.o") <(objdump -d -M intel "$dir/new.$asm.o") | head -40 || true
    status=1
  fi
done
# (GNU as and llvm-mc pick different encodings for some instructions, e.g. `mov r, r`,
# so each is compared only with itself.)
wc -l "$dir/old.body" "$dir/new.body" | sed "s|$dir/||; s|old.body|$rev|; s|new.body|working tree|" | head -2
exit $status
