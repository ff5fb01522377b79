//! The x86_64 assembly kernel of arrsyfor: eight RC4 steps per loop, written for this
//! crate after reading how OpenSSL's `rc4-x86_64` perlasm is shaped (no code taken).
//!
//! What makes it faster than the portable loop:
//! * Each step loads the *next* `S[i + 1]` as soon as the store `S[j] = S[i]` is issued,
//!   not after the whole swap, so the next step's `j += S[i + 1]` does not wait for the
//!   output byte. Issuing that load after the `S[j]` store (in program order) is what keeps
//!   it right when `j == i + 1`: the CPU forwards the stored value. The `S[i]` store cannot
//!   alias `S[i + 1]`.
//! * `i` runs through an aligned group of eight entries, so the eight `S[i]` addresses
//!   are one base register plus constant displacements, and only `j` moves by data.
//! * The eight output bytes are gathered in a 64-bit register and XORed into the data
//!   with one load and one store.
//!
//! Every table load is a zero-extending byte load (`movzx`), so every index stays below
//! 256 whatever the table holds: memory safety does not rest on the table being a
//! permutation.

/// XORs `data.len() / 8 * 8` keystream bytes into the front of `data`, eight at a time.
/// Returns how many bytes it processed.
///
/// # Panics
/// If `data` holds an octet and `i + 1` is not a multiple of 8 (the kernel's groups of eight `S[i]` must not wrap).
/// One RC4 step of the unrolled loop, as assembly text: `x` holds `S[i]`, the step loads
/// `S[i + 1]` into `n`; `ci` and `ni` are the byte displacements of `S[i]` and `S[i + 1]`
/// from the octet's base `ip`.
macro_rules! step {
    ($x:ident, $n:ident, $ci:literal, $ni:literal) => {
        concat!(
            // j += S[i]; y = S[j]
            "add {j:l}, {", stringify!($x), ":l}\n",
            "movzx {y:e}, byte ptr [{s} + {j}*4]\n",
            // S[j] = S[i], then (only now, so that j == i + 1 is seen) the next S[i + 1].
            "mov dword ptr [{s} + {j}*4], {", stringify!($x), ":e}\n",
            "movzx {", stringify!($n), ":e}, byte ptr [{s} + {ip}*4 + ", $ni, "]\n",
            "mov dword ptr [{s} + {ip}*4 + ", $ci, "], {y:e}\n",
            // The output byte S[S[i] + S[j]], rotated into the gathering register.
            "add {y:l}, {", stringify!($x), ":l}\n",
            "ror {acc}, 8\n",
            "mov {acc:l}, byte ptr [{s} + {y}*4]\n",
        )
    };
}

pub(super) fn apply_octets(s: &mut [u32; 256], i: &mut u8, j: &mut u8, data: &mut [u8]) -> usize {
    let len = data.len() & !7;
    if len == 0 {
        return 0;
    }
    assert!(i.wrapping_add(1) & 7 == 0, "i + 1 must start an octet");
    let base = s.as_mut_ptr();
    let mut jr = usize::from(*j);
    let p = data.as_mut_ptr();
    // SAFETY: `end = p + len` with `len <= data.len()`, so the loop's 8-byte loads and
    // stores `[p, end)` stay inside `data`, which we borrow mutably. Every table access is
    // `base + 4 * idx` with `idx` a byte (zero-extended byte loads and 8-bit adds keep the
    // index registers below 256) or `ip + k` with `ip` a multiple of 8 below 256 and
    // `k <= 7` (asserted above; `ip` only ever advances by 8 modulo 256), so all stay
    // inside the 1,024-byte table, which we borrow mutably. No stack, flags clobbered only.
    #[allow(unsafe_code, reason = "the hand-scheduled RC4 loop")]
    unsafe {
        core::arch::asm!(
            // tx = S[i + 1], the first step's entry.
            "movzx {a:e}, byte ptr [{s} + {ip}*4]",
            "2:",
            step!(a, b, "0", "4"),
            step!(b, a, "4", "8"),
            step!(a, b, "8", "12"),
            step!(b, a, "12", "16"),
            step!(a, b, "16", "20"),
            step!(b, a, "20", "24"),
            step!(a, b, "24", "28"),
            // The last step's next entry is the next octet's first: advance ip first.
            "add {j:l}, {b:l}",
            "movzx {y:e}, byte ptr [{s} + {j}*4]",
            "mov dword ptr [{s} + {j}*4], {b:e}",
            "mov dword ptr [{s} + {ip}*4 + 28], {y:e}",
            "add {ip:l}, 8",
            "movzx {a:e}, byte ptr [{s} + {ip}*4]",
            "add {y:l}, {b:l}",
            "ror {acc}, 8",
            "mov {acc:l}, byte ptr [{s} + {y}*4]",
            "ror {acc}, 8",
            "xor {acc}, qword ptr [{p}]",
            "mov qword ptr [{p}], {acc}",
            "add {p}, 8",
            "cmp {p}, {end}",
            "jne 2b",
            s = in(reg) base,
            ip = inout(reg) usize::from(i.wrapping_add(1)) => _,
            j = inout(reg) jr,
            a = out(reg) _,
            b = out(reg) _,
            y = out(reg) _,
            acc = out(reg) _,
            p = inout(reg) p => _,
            end = in(reg) p.add(len),
            options(nostack),
        );
    }
    *j = jr as u8;
    *i = i.wrapping_add(len as u8);
    len
}
