#!/usr/bin/env python3
"""Generates the unrolled asm! templates of the two x86_64 Montgomery backends.

    python3 bigint-x86/asmgen/x86_64.py

rewrites, in place, every block between a `// BEGIN GENERATED <name>` and a
`// END GENERATED <name>` line of `bigint-x86/src/backends/x86_64_{adc,adx,adx_zen}.rs`.
The blocks are the template pieces of `asm!` (string literals and calls of the macros
below), the `concat!` pieces of a macro, or a whole `macro_rules!`; the Rust around them
(operands, clobbers, SAFETY comments, the macros' doc comments) is hand-written. Why
generate: a 12-limb product unrolled by hand is 500 lines in which one wrong offset is
easy to write and hard to see; here each shape is written once. The output is checked
in, so building needs no Python; CI regenerates it and fails on a difference.

What repeats is generated once as a `macro_rules!` that expands to a `concat!` of the
lines, joined by newlines with none after the last, as `asm!` joins its pieces, so the
assembly text is the same as if every line were written out: `col!` (a column of
x86_64-adc), `step!` (a row product of x86_64-adx), `final_sub!` (the masked final
subtraction of all four full reductions) and `reduce_rows_n0_one!` (x86_64-adx's rows
for n0 = 1, which x86_64-adx-zen's lazy reduction shares). To check a change to this
file keeps the code: `cargo rustc --release -p ssmail-bigint-x86 --lib -- --emit=asm`
before and after, and compare the .s files in target/release/deps.

Layout shared by all blocks (12 limbs of 64 bits, little-endian limb order):
  t:   24-word scratch; the 1536-bit product goes there, is reduced in place, and the
       reduced upper half (plus a carry bit held in a register) is what the final
       subtraction reads.
  out: the 12-word result.
Only `t` (and `out` at the end) is written; `a`, `b` and `n` are only read.
"""

import pathlib
import re

L = 12  # limbs


def q(base, word):
    """A qword memory operand `[base + 8*word]`."""
    off = 8 * word
    return f"qword ptr [{{{base}}} + {off}]" if off else f"qword ptr [{{{base}}}]"


# --------------------------------------------------------------------------------------
# mulx / adcx / adox (BMI2 + ADX)
#
# Registers: rdx = the multiplier of the row (mulx's implicit source); r8 = the low
# half of each product; r9/r10 = the high halves, alternating so that the high half of
# product j-1 is still there when column j adds it; r11 = zero (and, at the end, the
# mask); r12 = the carry bit owed to the column above a reduction row's top; r13 = the
# row counter; rax = the next row's m. In each row, CF (adcx) carries the chain
# "old t[c] + low half of product j", OF (adox) the chain "+ high half of product j-1":
# two independent carry chains, so consecutive columns need not wait for each other.
# --------------------------------------------------------------------------------------

def H(j):
    return "r9" if j & 1 else "r10"


def adx_step_lines(hi, src, t, lo, out):
    """One product of a row: hi:r8 = rdx * src, then t (CF chain) and the high half
    of the product before, lo (OF chain), added to r8, which goes to out."""
    return [f"mulx {hi}, r8, {src}", f"adcx r8, {t}", f"adox r8, {lo}", f"mov {out}, r8"]


def adx_step(hi, src, t, lo, out=None):
    """A product of a row as one call of `step!` in x86_64_adx.rs; out defaults to t.
    The memory operands go in without their `qword ptr`, which the macro adds (so that
    a call fits on a line)."""

    def addr(x):
        assert x.startswith("qword ptr [")
        return x.removeprefix("qword ptr ")

    args = [hi, addr(src), addr(t), lo] + ([out] if out else [])
    args = ", ".join(f'"{x}"' for x in args)
    return Rust(f"step!({args})")


def adx_step_macro():
    """The macro `step!`: `adx_step_lines` with the result into t, or into `$out`."""
    o = ["macro_rules! step {"]
    for params, out in (("$hi:literal, $src:literal, $t:literal, $lo:literal", "qword ptr $t"),
                        ("$hi:literal, $src:literal, $t:literal, $lo:literal, $out:literal",
                         "$out")):
        o.append(f"    ({params}) => {{")
        o.append("        concat!(")
        o += ["            " + x for x in concat_body(adx_step_lines("$hi", "qword ptr $src", "qword ptr $t", "$lo", out))]
        o.append("        )")
        o.append("    };")
    o.append("}")
    return o


def adx_mul_product():
    """t[0..24] = a * b, fully unrolled: row 0 writes fresh columns, row i adds
    a*b[i] into t[i..i+12] (its top column t[i+12] is fresh)."""
    o = []
    o.append("xor r11d, r11d")  # zero; clears CF and OF
    o.append(f"mov rdx, {q('b', 0)}")
    o.append(f"mulx {H(0)}, r8, {q('a', 0)}")
    o.append(f"mov {q('t', 0)}, r8")
    for j in range(1, L):
        o.append(f"mulx {H(j)}, r8, {q('a', j)}")
        o.append(f"adox r8, {H(j - 1)}")
        o.append(f"mov {q('t', j)}, r8")
    o.append(f"adox {H(L - 1)}, r11")
    o.append(f"mov {q('t', L)}, {H(L - 1)}")
    for i in range(1, L):
        o.append(f"mov rdx, {q('b', i)}")
        o.append("xor r11d, r11d")
        o.append(f"mulx {H(0)}, r8, {q('a', 0)}")
        o.append(f"adcx r8, {q('t', i)}")
        o.append(f"mov {q('t', i)}, r8")
        for j in range(1, L):
            o.append(adx_step(H(j), q("a", j), q("t", i + j), H(j - 1)))
        # The top column is fresh: the row's last high half plus both chains' carries
        # (the partial product is below 2^(64(i+13)), so nothing carries out of it).
        o.append(f"adox {H(L - 1)}, r11")
        o.append(f"adcx {H(L - 1)}, r11")
        o.append(f"mov {q('t', i + L)}, {H(L - 1)}")
    return o


def adx_sqr_product():
    """t[0..24] = a^2: the cross products a[i]*a[j], i < j, once (66 products, fully
    unrolled because the rows shrink), then one pass that doubles them (adox t, t) and
    adds the squares a[i]^2 on the diagonal (adcx)."""
    o = []
    # Row 0: columns 1..12 are fresh.
    o.append("xor r11d, r11d")
    o.append(f"mov rdx, {q('a', 0)}")
    o.append(f"mulx {H(1)}, r8, {q('a', 1)}")
    o.append(f"mov {q('t', 1)}, r8")
    for j in range(2, L):
        o.append(f"mulx {H(j)}, r8, {q('a', j)}")
        o.append(f"adox r8, {H(j - 1)}")
        o.append(f"mov {q('t', j)}, r8")
    o.append(f"adox {H(L - 1)}, r11")
    o.append(f"mov {q('t', L)}, {H(L - 1)}")
    # Rows 1..10: columns 2i+1..i+11 add to what earlier rows wrote; i+12 is fresh.
    for i in range(1, L - 1):
        o.append("xor r11d, r11d")
        o.append(f"mov rdx, {q('a', i)}")
        for j in range(i + 1, L):
            c = i + j
            if j > i + 1:
                o.append(adx_step(H(j), q("a", j), q("t", c), H(j - 1)))
            else:
                o.append(f"mulx {H(j)}, r8, {q('a', j)}")
                o.append(f"adcx r8, {q('t', c)}")
                o.append(f"mov {q('t', c)}, r8")
        o.append(f"adox {H(L - 1)}, r11")
        o.append(f"adcx {H(L - 1)}, r11")
        o.append(f"mov {q('t', i + L)}, {H(L - 1)}")
    # Doubling and diagonal. Column 0 had no cross product (its doubled value is 0) and
    # column 23 neither (it is the carry out of doubling column 22, plus the chains).
    o.append("xor r11d, r11d")
    for i in range(L):
        o.append(f"mov rdx, {q('a', i)}")
        o.append("mulx r9, r8, rdx")
        if i == 0:
            o.append(f"mov {q('t', 0)}, r8")
        else:
            o.append(f"mov rax, {q('t', 2 * i)}")
            o.append("adox rax, rax")
            o.append("adcx rax, r8")
            o.append(f"mov {q('t', 2 * i)}, rax")
        if i < L - 1:
            o.append(f"mov rax, {q('t', 2 * i + 1)}")
            o.append("adox rax, rax")
            o.append("adcx rax, r9")
            o.append(f"mov {q('t', 2 * i + 1)}, rax")
        else:
            o.append("adox r9, r11")
            o.append("adcx r9, r11")
            o.append(f"mov {q('t', 2 * L - 1)}, r9")
    return o


def adx_reduce(n0_is_one):
    """Montgomery reduction of t[0..24] in place, 12 rows (the final subtraction
    follows, `final_sub_regs` or `lazy_sub_regs`, where the blocks are put together). Row i adds m*n at column i, m = t[i]*n0, which clears column
    i. Fully unrolled: a loop's counter and taken branch would compete with adcx and
    adox for ports 0 and 6.

    With n0 = 1 (n[0] all ones): m = t[i], and t[i] + m*n[0] = m*2^64 exactly, so
    column i needs no product and hands exactly m to column i+1 (as the high half of
    product 0): 11 products per row instead of 12, and no multiplication on the path
    from one row's m to the next. rax carries column i+1 of row i (the next m) in a
    register, so the next row does not wait for a store to be forwarded to a load."""
    o = []
    o.append("xor r12d, r12d")  # carry owed above the top column
    o.append(f"mov rax, {q('t', 0)}")
    for i in range(L):
        if n0_is_one:
            o.append("xor r11d, r11d")  # zero; clears CF and OF
            o.append("mov rdx, rax")
            prev_hi = "rdx"
        else:
            o.append("mov rdx, rax")
            o.append("imul rdx, {n0}")  # sets CF and OF: clear them after it
            o.append("xor r11d, r11d")
            # t[i] + low(m*n[0]) is 0 mod 2^64; only its carry matters.
            o.append(f"mulx {H(0)}, r8, {q('n', 0)}")
            o.append("adcx r8, rax")
            prev_hi = H(0)
        for j in range(1, L):
            # The next row's t[i+1] (j = 1) is only ever read from rax.
            out = "rax" if j == 1 and i < L - 1 else None
            o.append(adx_step(H(j), q("n", j), q("t", i + j), prev_hi, out))
            prev_hi = H(j)
        # Top column: old t[i+12], the last high half (OF chain), the carry owed from
        # the row below (CF chain, with its carry in). Both chains' carries out go to
        # the column above, as r12; they cannot both be set (the row's contribution
        # above column i+11 is at most 2^64 - 1, as in the portable mont_mul).
        o.append(f"mov r8, {q('t', i + L)}")
        o.append(f"adox r8, {H(L - 1)}")
        o.append("adcx r8, r12")
        o.append("mov r12d, 0")
        o.append("adcx r12, r11")
        o.append("adox r12, r11")
        o.append(f"mov {q('t', i + L)}, r8")
    # Fixed registers (the result comes out in registers, so every operand is pinned).
    return fixed_regs(o)


def fixed_regs(o):
    """The reduction blocks' operands pinned to registers: t in rdi, n in rsi, n0 in rcx."""

    def pin(x):
        return x.replace("{t}", "rdi").replace("{n0}", "rcx").replace("{n}", "rsi")

    return [Rust(pin(x.text)) if isinstance(x, Rust) else pin(x) for x in o]


def adx_reduce_n0_one():
    """The n0 = 1 reduction of x86_64-adx: the rows, written once as the macro
    `reduce_rows_n0_one!` (x86_64-adx-zen's lazy reduction has the same rows), then the
    final subtraction shared with x86_64-adc."""
    return [Rust("reduce_rows_n0_one!()"), Rust(f'{FINAL_SUB}!("r12")')]


def lazy_sub_regs(tmp, top):
    """The almost-Montgomery ending of the x86_64-adx-zen backend's reduction, in place
    of `final_sub_regs`: u - top·n, u = t[12..24] + top·R, into LAZY_OUT_REGS, by
    one subtract-with-borrow chain. The result is below R, not always below n (u < R + n
    when the inputs are below R: so when top is 1 the difference is below R, and when
    it is 0, u is). It needs no comparison of u with n (a borrow chain over all twelve
    words before any word can be chosen), so the next multiplication, which waits for
    this one's result, can start sooner. Measured on AMD Zen 3 (EPYC, family 25 model 1) with modexp_min:
    137.0 -> 132.2 µs per shared secret with n masked by -top through the dead
    t[0..12]; 132.0 with it multiplied by top in registers (as here), which also took
    the public key from 48.3 to 47.7 µs.

    Tried and not kept (same machine): a register-resident reduction for n0 = 1, m·n
    cut into four 6x6 blocks (R1 = m0..m5, R2 = m6..m11 against N1 = n0..n5,
    N2 = n6..n11, in the order R1xN1, R1xN2, R2xN1, R2xN2, so each m is found after
    everything below its column), each row's 7-column window in registers, the top
    column loaded from t and the carry word handed to the next row's top: no store
    is read back by the next row. With the lazy ending it took 133.8 µs against the
    rows' 132.2, without it 137.7 against 137.0: Zen 3 hides the store-forwarding
    latency of the rows, and the blocks' extra carry bookkeeping costs ALU slots.
    Per-instruction estimates there (ad-hoc rdtsc loops, not kept in the repo, so
    indications rather than benchmarks): mulx 1/cycle alone; mulx with adcx and adox
    into registers (a row's inner step) about 1.4 cycles, so the 210 products of a
    squaring and its reduction cost about 300 cycles however they are arranged, and
    the whole squaring measured about 400."""
    assert (tmp, top) == ("r8", "r12")  # as LAZY_OUT_REGS assumes
    # n masked by multiplying it by top (0 or 1) with mulx, which leaves the flags to
    # the subtraction chain (an `and` would clear CF). The last four masked words go
    # through t[8..12] (stored now, read eight words later): the registers that hold
    # n's pointer, top and the temporary become the last result words. The high
    # halves are zero; they land in the next result word's register, written after.
    o = ["mov rdx, r12"]
    for j in range(L - 4, L):
        o.append(f"mulx r9, r10, {q('n', j)}")
        o.append(f"mov {q('t', j)}, r10")
    for j in range(L):
        r = LAZY_OUT_REGS[j]
        op = "sub" if j == 0 else "sbb"
        if j < L - 4:
            o.append(f"mulx {LAZY_OUT_REGS[j + 1]}, r8, {q('n', j)}")
            o.append(f"mov {r}, {q('t', L + j)}")
            o.append(f"{op} {r}, r8")
        else:
            o.append(f"mov {r}, {q('t', L + j)}")
            o.append(f"{op} {r}, {q('t', j)}")
    return o


# x86_64-adx-zen on AMD Zen 3 (EPYC, family 25 model 1, 3.24 GHz by a dependent-add
# loop; no PMU under this VM, so cycles below are time x that clock), second session.
# Kept: the window lookup by AVX2 (`lookup_avx2`, hand-written Rust beside the
# generated blocks) placed before the window's squarings: shared secret 131.7 -> 127.6
# to 128.3 us with modexp_min (fastest of 400, against OpenSSL 191.5-191.8, so 0.69x ->
# 0.67x), public key 48.1 -> 41.0 us.
# Where the time goes (ad-hoc loops in a scratch test, not kept): a Lazy squaring
# about 119 ns (386 cycles: its product about 160, its reduction about 215), a
# multiplication about 133 ns (433 cycles), so 1.84 and 1.57 cycles per mulx, against
# 1.00 for mulx alone, 1.15 for mulx/adcx/adox rows with the columns in registers and
# 1.41 for the same rows through memory (each row reading what the row above stored:
# about 17 cycles from one row to the next). Two independent squaring chains
# interleaved cost as much per squaring as one, so it is not the wait for the previous
# result. A plain store -> load -> add chain is 7 cycles here (store -> adcx [mem] 8),
# and one row of 12 mulx/adcx/adox whose multiplier waits for the row before takes 19
# (so adcx and adox chains do run side by side): 12 reduction rows at about 18 cycles
# each is as if every row waited for the whole row before; forwarding latency alone
# would allow about 9 per row. Why it is 18 is not established (no PMU to ask).
# The whole exponentiation is 210,720 mulx (780 squarings x 210, 170
# multiplications x 276); at 127.6 us that is 1.96 cycles per mulx. The target, 0.6x
# OpenSSL (about 115 us), needs 1.77.
# Tried and not kept:
#  - the squaring's cross products in two buffers (even rows into t, odd rows into a
#    second 24-word buffer, folded in by one adc pass before the doubling), so that
#    the rows form two chains that do not wait for each other: the squaring alone
#    119 -> 110 ns, but the exponentiation did not move (127.4-128.2 us against
#    127.2-127.9) and neither did 153 x (5 squarings + 1 multiplication) in a loop;
#  - one non-inlined copy each of the squaring and the multiplication (in case five
#    inlined 5 KiB copies per window overflowed the op cache), and the reduction
#    block aligned to 64 bytes: no change beyond the noise (126.8-128.2 us);
#  - not built, by estimate: AVX2 with 29-bit limbs (27 limbs; about 180 vpmuludq
#    per product and as many per reduction at 2 per cycle, but a chain of 27 dependent
#    digit steps of about 10 cycles each, extract-mask-broadcast-multiply-add, so
#    about 270 cycles per multiplication before the carries: no clear win over 386);
#    dropping the top word's products by p's all-ones top word (m*(2^64-1) as a
#    subtraction and an addition, deferred to one pass over all m): saves 11 mulx of
#    210 but adds two 12-word carry chains on the result's path, about 2% at best.
# The lever left: rows whose columns stay in registers (a window of the 10 pending
# columns, three working registers, rbx/rbp saved), worth up to 1.41 -> 1.15 cycles
# per product by the loops above; an earlier banded attempt (below) did not gain.

# The result registers of `lazy_sub_regs`, word 0 first: n's pointer (rsi), the
# temporary (r8) and top (in rdx) are free only for the last ones.
LAZY_OUT_REGS = ["rax", "rcx", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rsi",
                 "r8", "rdx"]


# The result registers of `final_sub_regs`, word 0 first.
OUT_REGS = ["rax", "rcx", "rdx", "rsi", "r8", "r9", "r10", "r11", "r12", "r13", "r14",
            "r15"]


def final_sub_regs(tmp, top):
    """The masked final subtraction with the result left in OUT_REGS: x - n into the
    dead t[0..12], the mask into t[24], then each word d ^ ((x ^ d) & mask) loaded
    into its register. Why registers: a result stored with 8-byte stores and then
    copied by the compiler with 16-byte loads (as it copies arrays) cannot be
    forwarded from the store buffer, and every multiplication would wait for that."""
    o = []
    for j in range(L):
        o.append(f"mov {tmp}, {q('t', L + j)}")
        o.append(f"{'sub' if j == 0 else 'sbb'} {tmp}, {q('n', j)}")
        o.append(f"mov {q('t', j)}, {tmp}")
    o.append(f"sbb {top}, 0")  # borrows only when top = 0 and x's low part < n
    o.append(f"sbb {tmp}, {tmp}")  # all ones when x < n: keep x
    o.append(f"mov {q('t', 2 * L)}, {tmp}")
    for j in range(L):
        r = OUT_REGS[j]
        o.append(f"mov {r}, {q('t', L + j)}")
        o.append(f"xor {r}, {q('t', j)}")
        o.append(f"and {r}, {q('t', 2 * L)}")
        o.append(f"xor {r}, {q('t', j)}")
    return o


# --------------------------------------------------------------------------------------
# mul / add / adc only (any x86_64)
#
# `mul` takes rax and writes rdx:rax, and sets the flags, so one carry chain cannot
# span a row: each column is "t[c] + a[j]*b[i] + carry word" with the carry word in r9,
# which is the textbook operand-scanning row. Registers: r8 = the row multiplier,
# r9 = the carry word, r10 = the carry bit above a reduction row, r11 = row counter,
# then mask.
# --------------------------------------------------------------------------------------

def adc_col_lines(src, dst, fresh, first):
    """One column: t[c] (unless fresh) + rax*r8 + r9 → t[c] (dst), carry word → r9."""
    o = [f"mov rax, {src}", "mul r8"]
    if not fresh:
        o += [f"add rax, {dst}", "adc rdx, 0"]
    if not first:
        o += ["add rax, r9", "adc rdx, 0"]
    o += [f"mov {dst}, rax", "mov r9, rdx"]
    return o


# The four shapes of a column, as the arms of the macro `col!` in x86_64_adc.rs: `new`
# when t[c] is not yet written (nothing to add), `first` when there is no carry word
# from a column below.
COL_ARMS = [(True, True), (True, False), (False, True), (False, False)]


def col_words(fresh, first):
    return [w for w, on in (("new", fresh), ("first", first)) if on]


def adc_col(src, c, fresh, first=False):
    """A column as one call of `col!` (its lines are `adc_col_lines`)."""
    words = "".join(w + " " for w in col_words(fresh, first))
    return [Rust(f'col!({words}"{src}", "{q("t", c)}")')]


def adc_col_macro():
    """The macro `col!`: an arm per shape, each a concat! of `adc_col_lines` with
    `$src` and `$dst` for the source and t[c] operands."""
    o = ["macro_rules! col {"]
    for fresh, first in COL_ARMS:
        words = "".join(w + " " for w in col_words(fresh, first))
        o.append(f"    ({words}$src:literal, $dst:literal) => {{")
        o.append("        concat!(")
        o += ["            " + x for x in concat_body(adc_col_lines("$src", "$dst", fresh, first))]
        o.append("        )")
        o.append("    };")
    o.append("}")
    return o


def adc_mul_product():
    o = []
    o.append(f"mov r8, {q('b', 0)}")
    for j in range(L):
        o += adc_col(q("a", j), j, fresh=True, first=(j == 0))
    o.append(f"mov {q('t', L)}, r9")
    o.append(f"mov r11d, {L - 1}")
    o.append("2:")
    o.append("lea {b}, [{b} + 8]")
    o.append("lea {t}, [{t} + 8]")
    o.append(f"mov r8, {q('b', 0)}")
    for j in range(L):
        o += adc_col(q("a", j), j, fresh=False, first=(j == 0))
    o.append(f"mov {q('t', L)}, r9")
    o.append("dec r11d")
    o.append("jnz 2b")
    return o


def adc_sqr_product():
    """Cross products once, then double (one adc chain over 22 words), then add the
    diagonal; `mul` clobbers CF, so the diagonal's carry is parked in r9 as 0 or -1
    (sbb r9, r9) and restored by add r9, r9. t[0] and t[23] start at zero (they
    are zeroed first)."""
    o = [f"mov {q('t', 0)}, 0", f"mov {q('t', 2 * L - 1)}, 0"]
    for i in range(L - 1):
        o.append(f"mov r8, {q('a', i)}")
        for j in range(i + 1, L):
            o += adc_col(q("a", j), i + j, fresh=(i == 0), first=(j == i + 1))
        o.append(f"mov {q('t', i + L)}, r9")
    for c in range(1, 2 * L):
        o.append(f"mov rax, {q('t', c)}")
        o.append(f"{'add' if c == 1 else 'adc'} rax, rax")
        o.append(f"mov {q('t', c)}, rax")
    o.append("xor r9d, r9d")
    for i in range(L):
        o.append(f"mov rax, {q('a', i)}")
        o.append("mul rax")
        o.append("add r9, r9")
        o.append(f"adc rax, {q('t', 2 * i)}")
        o.append(f"adc rdx, {q('t', 2 * i + 1)}")
        o.append(f"mov {q('t', 2 * i)}, rax")
        o.append(f"mov {q('t', 2 * i + 1)}, rdx")
        o.append("sbb r9, r9")
    return o


def adc_reduce(n0_is_one):
    """Montgomery reduction, 12 unrolled rows, then the final subtraction with the
    result in registers (as in the ADX backend). r10 is the carry bit owed above a
    row's top column."""
    o = []
    o.append("xor r10d, r10d")
    for i in range(L):
        o.append(f"mov r8, {q('t', i)}")
        if n0_is_one:
            # t[i] + m*n[0] = m*2^64 for m = t[i] when n[0] is all ones.
            o.append("mov r9, r8")
        else:
            o.append("imul r8, {n0}")
            o.append(f"mov rax, {q('n', 0)}")
            o.append("mul r8")
            o.append(f"add rax, {q('t', i)}")
            o.append("adc rdx, 0")
            o.append("mov r9, rdx")
        for j in range(1, L):
            o += adc_col(q("n", j), i + j, fresh=False)
        o.append(f"mov rax, {q('t', i + L)}")
        o.append("add rax, r10")
        o.append("mov r10d, 0")
        o.append("adc r10, 0")
        o.append("add rax, r9")
        o.append("adc r10, 0")
        o.append(f"mov {q('t', i + L)}, rax")
    return fixed_regs(o) + [Rust('final_sub!("r10")')]


class Rust:
    """A template piece that is Rust, not a line of assembly: a call of one of the
    generated `macro_rules!` below, which expands to the lines it stands for (asm!
    joins its template pieces with newlines, as the macros join their lines, so the
    assembly text is the same as if the lines were written out)."""

    def __init__(self, text):
        self.text = text


def by_path(o):
    """`step!` called by its path: a macro_rules! expansion looks macro names up where
    it is called, and x86_64_adx_zen calls `reduce_rows_n0_one!`."""
    return [Rust(x.text.replace("step!(", "super::x86_64_adx::step!(")) if isinstance(x, Rust)
            else x for x in o]


# The final subtraction is one macro, defined in x86_64_adc.rs (`$top` is the register
# of the carry word: r10 there, r12 in x86_64_adx) and called by all four full
# reductions; x86_64_adx's n0 = 1 rows are one macro there, called by it and by
# x86_64_adx_zen.
FINAL_SUB = "super::x86_64_adc::final_sub"

# Blocks inside `concat!(...)` of a `macro_rules!`: the lines of a template piece.
MACROS = {
    "x86_64_adc.rs": {
        "final_sub": lambda: fixed_regs(final_sub_regs("r8", "$top")),
    },
    "x86_64_adx.rs": {
        "reduce_rows_n0_one": lambda: by_path(adx_reduce(True)),
    },
}

# Blocks of a whole macro_rules!.
MACRO_RULES = {
    "x86_64_adc.rs": {
        "col": adc_col_macro,
    },
    "x86_64_adx.rs": {
        "step": adx_step_macro,
    },
}

BLOCKS = {
    "x86_64_adx.rs": {
        "mul_product": adx_mul_product,
        "sqr_product": adx_sqr_product,
        "reduce_n0_one": adx_reduce_n0_one,
        "reduce": lambda: adx_reduce(False) + [Rust(f'{FINAL_SUB}!("r12")')],
    },
    "x86_64_adx_zen.rs": {
        "reduce_n0_one_lazy": lambda: [Rust("super::x86_64_adx::reduce_rows_n0_one!()")]
        + fixed_regs(lazy_sub_regs("r8", "r12")),
    },
    "x86_64_adc.rs": {
        "mul_product": adc_mul_product,
        "sqr_product": adc_sqr_product,
        "reduce_n0_one": lambda: adc_reduce(True),
        "reduce": lambda: adc_reduce(False),
    },
}


def asm_piece(item):
    """One template piece of an asm! block."""
    if isinstance(item, Rust):
        return f"{item.text},"
    return f'"{item}",'


def concat_body(lines):
    """The pieces of `concat!` for lines of assembly, the macro's arguments (`$top`,
    `$src`, ...) left as they are; newlines between the lines and none after the last."""
    out = []
    for k, line in enumerate(lines):
        end = "" if k == len(lines) - 1 else "\\n"
        if isinstance(line, Rust):
            # A macro call that expands to lines itself: the newline after it apart.
            out.append(f"{line.text},")
            if end:
                out.append(f'"{end}",')
            continue
        # Literal text and macro arguments ($name) alternate.
        parts = re.split(r"(\$[a-z]+)", line)
        pieces = [p if i % 2 else f'"{p}"' for i, p in enumerate(parts)]
        pieces[-1] = f'"{parts[-1]}{end}"'
        # One piece a line, as rustfmt lays out concat!'s arguments.
        out += [f"{x}," for x in pieces if x != '""']
    return out


def main():
    root = pathlib.Path(__file__).resolve().parent.parent / "src" / "backends"
    for fname in dict.fromkeys(list(MACROS) + list(MACRO_RULES) + list(BLOCKS)):
        path = root / fname
        text = path.read_text()
        pieces = {name: concat_body(gen()) for name, gen in MACROS.get(fname, {}).items()}
        pieces |= {name: gen() for name, gen in MACRO_RULES.get(fname, {}).items()}
        pieces |= {
            name: [asm_piece(x) for x in gen()] for name, gen in BLOCKS.get(fname, {}).items()
        }
        for name, body_lines in pieces.items():
            pat = re.compile(
                r"(?P<indent>[ \t]*)// BEGIN GENERATED " + name + r"\n.*?"
                r"[ \t]*// END GENERATED " + name + r"\n",
                re.S,
            )
            m = pat.search(text)
            if not m:
                raise SystemExit(f"{fname}: no block {name}")
            ind = m.group("indent")
            body = "".join(f"{ind}{line}\n" for line in body_lines)
            new = (
                f"{ind}// BEGIN GENERATED {name}\n{body}"
                f"{ind}// END GENERATED {name}\n"
            )
            text = text[: m.start()] + new + text[m.end():]
        path.write_text(text)


if __name__ == "__main__":
    main()
