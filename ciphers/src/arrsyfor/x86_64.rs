//! The x86_64 assembly kernels of arrsyfor: sixteen RC4 steps per loop, written for this
//! crate after reading how OpenSSL's `rc4-x86_64` perlasm is shaped (no code taken).
//! [`apply_chunks`] gathers the output bytes in general registers (the `x86_64-asm`
//! path), [`apply_chunks_sse2`] in SSE2 registers (`x86_64-sse2`); both share the steps.
//!
//! What makes it faster than the portable loop (figures from an AMD EPYC Zen 3, family 25
//! model 1, against OpenSSL 3's RC4 in the same run; see `benches/examples/arrsyfor_min.rs`):
//! * Each step loads the *next* `S[i + 1]` right after it issues the store
//!   `S[j] = S[i]`, not after the whole swap and the output byte, so the next step's
//!   `j += S[i + 1]` never waits for them. Loading it after the `S[j]` store (in program
//!   order) is what keeps it right when `j == i + 1`: the CPU forwards the stored value.
//!   The step's other store, `S[i] = S[j]`, cannot alias `S[i + 1]`.
//! * `i` runs through aligned groups of eight entries, so the `S[i]` addresses are one
//!   base register plus constant displacements, and only `j` moves with the data.
//! * The table is read with 32-bit loads, the width it is stored with: zero-extending
//!   byte loads of the same entries were 8% slower on Zen 3 (the `S[i + 1]` loads that
//!   follow an `S[j]` store to the same entry read through store forwarding).
//! * Each octet's output bytes are rotated into a 64-bit register and XORed into the data
//!   with one load and one store. Two such registers take turns by octet, so one octet's
//!   rotate-and-merge chain does not wait for the previous octet's: with one register and
//!   eight steps per loop (OpenSSL's shape) this kernel was 0.99-1.03x OpenSSL; with the
//!   sixteen-step loop and two registers it is 1.12-1.18x. Thirty-two steps per loop gained
//!   nothing more, and gathering by shift and OR, or into four registers, was slower.
//!   Gathering in SSE2 registers instead (the `x86_64-sse2` path, for Intel) measured
//!   1.00-1.06x OpenSSL on Zen 3.

/// One RC4 step, as assembly text. `x` holds `S[i]` (as a 32-bit entry); the step loads
/// `S[i + 1]` into `n`, whose displacement from the octet's base `ip` is `ni` bytes (`ci`
/// is `S[i]`'s), and rotates the output byte into `acc`.
macro_rules! step {
    ($x:ident, $n:ident, $acc:ident, $ci:literal, $ni:literal) => {
        concat!(
            swap_head!($x),
            // Only now, after the S[j] store, so that j == i + 1 is seen.
            "mov {",
            stringify!($n),
            ":e}, dword ptr [{s} + {ip}*4 + ",
            $ni,
            "]\n",
            "mov dword ptr [{s} + {ip}*4 + ",
            $ci,
            "], {y:e}\n",
            output!($x, $acc),
        )
    };
}

/// The last step of an octet: as [`step!`], but `S[i + 1]` opens the next octet, so `ip`
/// advances (modulo 256, as a byte register) before it is loaded.
macro_rules! last_step {
    ($x:ident, $n:ident, $acc:ident) => {
        concat!(
            swap_head!($x),
            "mov dword ptr [{s} + {ip}*4 + 28], {y:e}\n",
            "add {ip:l}, 8\n",
            "mov {",
            stringify!($n),
            ":e}, dword ptr [{s} + {ip}*4]\n",
            output!($x, $acc),
        )
    };
}

/// `j += S[i]; y = S[j]; S[j] = S[i]`. `j` only ever changes in its low byte.
macro_rules! swap_head {
    ($x:ident) => {
        concat!(
            "add {j:l}, {",
            stringify!($x),
            ":l}\n",
            "mov {y:e}, dword ptr [{s} + {j}*4]\n",
            "mov dword ptr [{s} + {j}*4], {",
            stringify!($x),
            ":e}\n",
        )
    };
}

/// The output byte `S[(S[i] + S[j]) mod 256]`, rotated into `acc` from the top: after the
/// octet's eight bytes and one more rotation, byte `k` of the octet is byte `k` of `acc`.
macro_rules! output {
    ($x:ident, $acc:ident) => {
        concat!(
            "add {y:l}, {",
            stringify!($x),
            ":l}\n",
            "ror {",
            stringify!($acc),
            "}, 8\n",
            "mov {",
            stringify!($acc),
            ":l}, byte ptr [{s} + {y}*4]\n",
        )
    };
}

/// The eight steps of one octet (`i + 1` through `i + 8`), then its XOR into the data at
/// byte offset `off` from `p`. `S[i + 1]` is in register `a` before and after.
macro_rules! octet {
    ($acc:ident, $off:literal) => {
        concat!(
            step!(a, b, $acc, "0", "4"),
            step!(b, a, $acc, "4", "8"),
            step!(a, b, $acc, "8", "12"),
            step!(b, a, $acc, "12", "16"),
            step!(a, b, $acc, "16", "20"),
            step!(b, a, $acc, "20", "24"),
            step!(a, b, $acc, "24", "28"),
            last_step!(b, a, $acc),
            "ror {",
            stringify!($acc),
            "}, 8\n",
            "xor {",
            stringify!($acc),
            "}, qword ptr [{p} + ",
            $off,
            "]\n",
            "mov qword ptr [{p} + ",
            $off,
            "], {",
            stringify!($acc),
            "}\n",
        )
    };
}

/// Bytes per loop of the kernel.
pub(super) const CHUNK: usize = 16;

/// XORs `data.len() / 16 * 16` keystream bytes into the front of `data`, sixteen at a
/// time, and returns how many bytes that is. `i` and `j` are the cipher's indices.
///
/// # Panics
/// If that count is not zero and `i + 1` is not a multiple of 8 (the groups of eight
/// `S[i]` addressed from one base must not wrap around the table).
///
/// # Safety
/// Every entry of `s` is below 256. (The output index is the low byte of `S[i] + S[j]`
/// added in a register that holds the whole 32-bit `S[j]`; the two other indices are
/// bytes whatever the table holds.)
#[allow(unsafe_code, reason = "the hand-scheduled RC4 loop")]
// Out of line: inlined into `Arrsyfor::apply`, the same loop got other registers from
// the allocator (`j` in `rcx` rather than `r10`, among others) and ran 10-12% slower on
// Zen 3, whatever its alignment. One call per `apply_keystream` costs nothing measurable.
#[inline(never)]
pub(super) unsafe fn apply_chunks(
    s: &mut [u32; 256],
    i: &mut u8,
    j: &mut u8,
    data: &mut [u8],
) -> usize {
    let len = data.len() & !(CHUNK - 1);
    if len == 0 {
        return 0;
    }
    assert!(i.wrapping_add(1) & 7 == 0, "i + 1 must start an octet");
    let base = s.as_mut_ptr();
    let p = data.as_mut_ptr();
    let mut jr = usize::from(*j);
    // SAFETY: the data: `end = p + len` with `len` a nonzero multiple of 16 and at most
    // `data.len()`, so the loop's 8-byte loads and stores at `p` and `p + 8`, `p` stepping
    // by 16 up to `end`, stay inside `data`, which we borrow mutably. The table (which we
    // borrow mutably too): `j` starts below 256 and changes only in its low byte; `ip`
    // starts as a multiple of 8 below 256 (asserted above) and changes only by adding 8 to
    // its low byte, so `ip + 7` never passes 255; `y` is `S[j]` with its low byte replaced,
    // below 256 by the caller's promise. So every access `base + 4 * index (+ 4k)` is
    // inside the 1,024 bytes of `s`. The asm uses no stack and clobbers only the flags and
    // the registers declared here.
    unsafe {
        core::arch::asm!(
            "mov {a:e}, dword ptr [{s} + {ip}*4]",
            // The loop's start on a 64-byte boundary: its speed varied by 10% with where
            // the linker happened to place it.
            ".p2align 6",
            "2:",
            octet!(acc0, "0"),
            octet!(acc1, "8"),
            "add {p}, 16",
            "cmp {p}, {end}",
            "jne 2b",
            s = in(reg) base,
            ip = inout(reg) usize::from(i.wrapping_add(1)) => _,
            j = inout(reg) jr,
            a = out(reg) _,
            b = out(reg) _,
            y = out(reg) _,
            acc0 = out(reg) _,
            acc1 = out(reg) _,
            p = inout(reg) p => _,
            end = in(reg) p.add(len),
            options(nostack),
        );
    }
    *j = jr as u8;
    *i = i.wrapping_add(len as u8);
    len
}

/// As [`step!`], but the output byte goes into word `w` of the vector register `v`: a
/// 16-bit load of the 32-bit entry is the byte, zero-extended, so no merge is needed.
macro_rules! vstep {
    ($x:ident, $n:ident, $v:ident, $w:literal, $ci:literal, $ni:literal) => {
        concat!(
            swap_head!($x),
            "mov {",
            stringify!($n),
            ":e}, dword ptr [{s} + {ip}*4 + ",
            $ni,
            "]\n",
            "mov dword ptr [{s} + {ip}*4 + ",
            $ci,
            "], {y:e}\n",
            voutput!($x, $v, $w),
        )
    };
}

/// As [`last_step!`], with the output byte into word `w` of `v`.
macro_rules! vlast_step {
    ($x:ident, $n:ident, $v:ident, $w:literal) => {
        concat!(
            swap_head!($x),
            "mov dword ptr [{s} + {ip}*4 + 28], {y:e}\n",
            "add {ip:l}, 8\n",
            "mov {",
            stringify!($n),
            ":e}, dword ptr [{s} + {ip}*4]\n",
            voutput!($x, $v, $w),
        )
    };
}

/// The output byte `S[(S[i] + S[j]) mod 256]` into word `w` of `v`.
macro_rules! voutput {
    ($x:ident, $v:ident, $w:literal) => {
        concat!(
            "add {y:l}, {",
            stringify!($x),
            ":l}\n",
            "pinsrw {",
            stringify!($v),
            "}, word ptr [{s} + {y}*4], ",
            $w,
            "\n",
        )
    };
}

/// Eight steps of the vector-gathering loop: even bytes of the 16 into `ve`, odd into
/// `vo`, word `w0 .. w0 + 3`.
macro_rules! voctet {
    ($w0:literal, $w1:literal, $w2:literal, $w3:literal) => {
        concat!(
            vstep!(a, b, ve, $w0, "0", "4"),
            vstep!(b, a, vo, $w0, "4", "8"),
            vstep!(a, b, ve, $w1, "8", "12"),
            vstep!(b, a, vo, $w1, "12", "16"),
            vstep!(a, b, ve, $w2, "16", "20"),
            vstep!(b, a, vo, $w2, "20", "24"),
            vstep!(a, b, ve, $w3, "24", "28"),
            vlast_step!(b, a, vo, $w3),
        )
    };
}

/// As [`apply_chunks`], gathering each sixteen output bytes in two SSE2 registers (even
/// and odd bytes, one per 16-bit word), which are then merged, XORed into the data and
/// stored as one 16-byte vector. No partial-register merges; SSE2 is part of x86_64.
///
/// # Panics
/// As [`apply_chunks`].
///
/// # Safety
/// As [`apply_chunks`].
#[allow(unsafe_code, reason = "the hand-scheduled RC4 loop")]
#[inline(never)]
pub(super) unsafe fn apply_chunks_sse2(
    s: &mut [u32; 256],
    i: &mut u8,
    j: &mut u8,
    data: &mut [u8],
) -> usize {
    let len = data.len() & !(CHUNK - 1);
    if len == 0 {
        return 0;
    }
    assert!(i.wrapping_add(1) & 7 == 0, "i + 1 must start an octet");
    let base = s.as_mut_ptr();
    let p = data.as_mut_ptr();
    let mut jr = usize::from(*j);
    // SAFETY: as in `apply_chunks`; the 16-byte vector load and store at `p`, `p`
    // stepping by 16 up to `end`, stay inside `data`. The 16-bit table loads read the low
    // half of an entry whose index is bounded as in `apply_chunks`.
    unsafe {
        core::arch::asm!(
            "mov {a:e}, dword ptr [{s} + {ip}*4]",
            ".p2align 6",
            "2:",
            "pxor {ve}, {ve}",
            "pxor {vo}, {vo}",
            voctet!("0", "1", "2", "3"),
            voctet!("4", "5", "6", "7"),
            "psllw {vo}, 8",
            "por {ve}, {vo}",
            "movdqu {vo}, xmmword ptr [{p}]",
            "pxor {ve}, {vo}",
            "movdqu xmmword ptr [{p}], {ve}",
            "add {p}, 16",
            "cmp {p}, {end}",
            "jne 2b",
            s = in(reg) base,
            ip = inout(reg) usize::from(i.wrapping_add(1)) => _,
            j = inout(reg) jr,
            a = out(reg) _,
            b = out(reg) _,
            y = out(reg) _,
            ve = out(xmm_reg) _,
            vo = out(xmm_reg) _,
            p = inout(reg) p => _,
            end = in(reg) p.add(len),
            options(nostack),
        );
    }
    *j = jr as u8;
    *i = i.wrapping_add(len as u8);
    len
}
