#!/usr/bin/env bash
# Proves that the Pentium backend (bigint-x86/src/backends/x86_p5.rs) uses only
# instructions of the original Pentium (P5, no MMX): disassembles the functions whose
# names start with `ssmail_x86p5_` in the given objects, archives (rlibs) or executables
# and fails on any mnemonic outside an allow-list of the 386/486/P5 integer set, and on
# any MMX/SSE/AVX register operand. `cmov*` (P6), MMX, SSE, `mulx`, `adcx`/`adox` and
# the like are therefore all refused, and so is anything not foreseen here.
#
#   bash scripts/check_p5_disasm.sh FILE...   check FILE (e.g. the i586 rlib)
#   bash scripts/check_p5_disasm.sh --self-test
#                                             assemble a good and a bad function and
#                                             check that the good one passes and the
#                                             bad ones (cmov, MMX, SSE2) fail
# Environment: P5_SYMBOLS, a regex for the function names (default ^ssmail_x86p5_);
# P5_EXPECT, how many such functions there must at least be (default 4), so the check
# cannot pass by finding nothing.
set -euo pipefail


# The 386/486/Pentium integer instructions (no P6 additions such as cmov, fcomi, ud2,
# sysenter; no MMX), as objdump spells them in Intel syntax.
ALLOWED="mov movzx movsx add adc sub sbb mul imul div idiv neg not and or xor test cmp
inc dec lea shl shr sar sal rol ror rcl rcr shld shrd push pop pusha popa pushf popf
call ret jmp ja jae jb jbe jc je jg jge jl jle jna jnae jnb jnbe jnc jne jng jnge jnl
jnle jno jnp jns jnz jo jp jpe jpo js jz jecxz jcxz loop
seta setae setb setbe setc sete setg setge setl setle setna setnae setnb setnbe setnc
setne setng setnge setnl setnle setno setnp setns setnz seto setp sete sets setz
xchg bswap xadd cmpxchg cmpxchg8b nop lahf sahf cdq cwd cwde cbw clc stc cmc cld std
leave enter bt bts btr btc bsf bsr rdtsc cpuid int3 lods stos movs cmps scas"

check() {
  local files=("$@")
  local symbols=${P5_SYMBOLS:-^ssmail_x86p5_} expect=${P5_EXPECT:-4}
  local dis
  dis=$(objdump -d -M intel --no-show-raw-insn "${files[@]}")
  printf '%s\n' "$dis" | awk -v symre="$symbols" -v expect="$expect" -v allowed="$ALLOWED" '
    BEGIN {
      n = split(allowed, a, /[ \n]+/)
      for (i = 1; i <= n; i++) if (a[i] != "") ok[a[i]] = 1
      bad = 0; funcs = 0; insns = 0; in_fn = 0
    }
    # A symbol header: "0000c980 <name>:".
    /^[0-9a-f]+ <.*>:$/ {
      name = $2; sub(/^</, "", name); sub(/>:$/, "", name)
      in_fn = (name ~ symre)
      if (in_fn) { funcs++; seen[name] = 1 }
      next
    }
    /^$/ { next }
    in_fn && /^ *[0-9a-f]+:\t/ {
      line = $0
      sub(/^ *[0-9a-f]+:\t/, "", line)
      m = line; sub(/[ \t].*/, "", m)
      # Prefixes do not change which instruction runs.
      rest = line; sub(/^[^ \t]+[ \t]*/, "", rest)
      while (m == "lock" || m == "rep" || m == "repz" || m == "repnz" || m == "repe" || m == "repne" || m == "data16" || m == "addr16" || m == "cs" || m == "ds" || m == "ss" || m == "es") {
        m = rest; sub(/[ \t].*/, "", m)
        sub(/^[^ \t]+[ \t]*/, "", rest)
      }
      insns++
      if (m == "(bad)" || !(m in ok) || rest ~ /(^|[^a-z])([xyz]?mm[0-9]+|k[0-7])([^0-9a-z]|$)/) {
        printf "not a P5 instruction in %s: %s\n", name, line
        bad++
      }
    }
    END {
      if (funcs < expect) {
        printf "check_p5_disasm: found %d functions matching %s, expected at least %d\n", funcs, symre, expect
        exit 2
      }
      printf "check_p5_disasm: %d instructions in %d functions (", insns, funcs
      sep = ""
      for (f in seen) { printf "%s%s", sep, f; sep = ", " }
      printf "): %d not P5\n", bad
      exit bad > 0 ? 1 : 0
    }'
}

self_test() {
  local dir
  dir=$(mktemp -d)
  trap 'rm -rf "$dir"' RETURN
  cat >"$dir/good.s" <<'EOF'
    .intel_syntax noprefix
    .text
    .globl ssmail_x86p5_selftest_good
ssmail_x86p5_selftest_good:
    mov eax, dword ptr [esp + 4]
    mul dword ptr [esp + 8]
    add ecx, eax
    adc ebx, edx
    adc ebp, 0
    sbb eax, eax
    and eax, ecx
    lea eax, [eax + 4*ecx + 8]
    imul eax, dword ptr [esp + 12]
    bswap eax
    ret
EOF
  cat >"$dir/cmov.s" <<'EOF'
    .intel_syntax noprefix
    .text
    .globl ssmail_x86p5_selftest_cmov
ssmail_x86p5_selftest_cmov:
    cmp eax, ecx
    cmovb eax, ecx
    ret
EOF
  cat >"$dir/mmx.s" <<'EOF'
    .intel_syntax noprefix
    .text
    .globl ssmail_x86p5_selftest_mmx
ssmail_x86p5_selftest_mmx:
    movd mm0, eax
    movd eax, mm0
    ret
EOF
  cat >"$dir/sse2.s" <<'EOF'
    .intel_syntax noprefix
    .text
    .globl ssmail_x86p5_selftest_sse2
ssmail_x86p5_selftest_sse2:
    pmuludq xmm0, xmm1
    ret
EOF
  for f in good cmov mmx sse2; do
    as --32 -o "$dir/$f.o" "$dir/$f.s"
  done
  P5_EXPECT=1 check "$dir/good.o" >/dev/null || {
    echo "self-test: the P5-only function was refused" >&2
    return 1
  }
  for f in cmov mmx sse2; do
    if P5_EXPECT=1 check "$dir/$f.o"; then
      echo "self-test: the $f function passed, the check cannot fail" >&2
      return 1
    fi
  done
  echo "check_p5_disasm self-test: P5 code passes; cmov, MMX and SSE2 code fail, as they must"
}

if [ "${1:-}" = "--self-test" ]; then
  self_test
else
  [ $# -gt 0 ] || { echo "usage: $0 FILE... | --self-test" >&2; exit 2; }
  check "$@"
fi
