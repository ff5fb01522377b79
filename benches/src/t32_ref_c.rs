//! The `t32-ref-c` peer: `c/t32_ref.c`, a plain C SOBER-t32 written in this project from
//! `docs/t32.md` in the style of QUALCOMM's reference C (a shifting 17-word register,
//! four α tables, a switch on the stutter dibit). It is not QUALCOMM's code; it stands
//! in for it as a benchmark peer only. `build.rs` compiles it at `-O3`.

use core::ffi::{c_int, c_uchar};

/// Mirror of `t32ref_ctx` in `c/t32_ref.h`.
#[repr(C)]
struct T32RefCtx {
    r: [u32; 17],
    konst: u32,
    ctrl: u32,
    dibits: u32,
    sbuf: u32,
    nbuf: u32,
}

// SAFETY: these declarations match `c/t32_ref.h`, compiled and linked by build.rs
// (`size_t` is `usize` on every target Rust supports here).
unsafe extern "C" {
    fn t32ref_key(c: *mut T32RefCtx, key: *const c_uchar, keylen: c_int);
    fn t32ref_stream(c: *mut T32RefCtx, buf: *mut c_uchar, nbytes: usize);
    fn t32ref_ctx_size() -> usize;
}

/// SOBER-t32 in key-only mode, as `c/t32_ref.c` computes it. The keystream continues
/// across calls, whatever their lengths.
pub struct T32RefC {
    ctx: T32RefCtx,
}

impl T32RefC {
    /// Loads `key` with `t32ref_key`.
    ///
    /// # Panics
    /// If `key` is empty or longer than 32 bytes (the range `T32` accepts).
    pub fn new(key: &[u8]) -> Self {
        assert!(
            (1..=32).contains(&key.len()),
            "t32 keys are 1..=32 bytes, not {}",
            key.len()
        );
        let len = c_int::try_from(key.len()).expect("at most 32");
        let mut ctx = T32RefCtx {
            r: [0; 17],
            konst: 0,
            ctrl: 0,
            dibits: 0,
            sbuf: 0,
            nbuf: 0,
        };
        // SAFETY: `ctx` is a valid, writable t32ref_ctx (layout mirrored from
        // c/t32_ref.h; see `layout_matches_c`), and `key` points to `len` readable
        // bytes. t32ref_key only writes inside `ctx` and only reads `key[..len]`.
        unsafe { t32ref_key(&mut ctx, key.as_ptr(), len) };
        Self { ctx }
    }

    /// XORs the next `buf.len()` keystream bytes into `buf`, in place.
    pub fn apply_keystream(&mut self, buf: &mut [u8]) {
        // SAFETY: `self.ctx` was keyed by t32ref_key; `buf` is `buf.len()` bytes that are
        // readable and writable, and not aliased, for the duration of the call.
        // t32ref_stream touches only `ctx` and `buf[..len]`.
        unsafe { t32ref_stream(&mut self.ctx, buf.as_mut_ptr(), buf.len()) };
    }

    /// The key-dependent constant `konst` (for checking against published vectors).
    pub fn konst(&self) -> u32 {
        self.ctx.konst
    }

    /// Whether the Rust mirror of `t32ref_ctx` has the C struct's size.
    pub fn layout_matches_c() -> bool {
        // SAFETY: t32ref_ctx_size takes no arguments and only returns a constant.
        let c_size = unsafe { t32ref_ctx_size() };
        c_size == size_of::<T32RefCtx>()
    }
}
