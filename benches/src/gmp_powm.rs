//! GMP's constant-time modular exponentiation (`mpz_powm_sec`), through a small FFI
//! shim: a second peer for the 768-bit exponentiation. `build.rs` links libgmp.

use core::ffi::{c_int, c_void};

/// Mirror of GMP's `__mpz_struct` (`gmp.h`): `int _mp_alloc; int _mp_size;
/// mp_limb_t *_mp_d;`, the same shape on i386 and amd64.
#[repr(C)]
struct Mpz {
    alloc: c_int,
    size: c_int,
    d: *mut c_void,
}

// SAFETY: these match `gmp.h` of GMP 6.2 (the `mpz_*` names are macros for these
// symbols): `void mpz_init(mpz_t)`, `void mpz_clear(mpz_t)`, `void mpz_import(mpz_t rop,
// size_t count, int order, size_t size, int endian, size_t nails, const void *op)`,
// `void *mpz_export(void *rop, size_t *countp, int order, size_t size, int endian,
// size_t nails, const mpz_t op)`, `void mpz_powm_sec(mpz_t rop, const mpz_t base,
// const mpz_t exp, const mpz_t mod)`.
unsafe extern "C" {
    fn __gmpz_init(x: *mut Mpz);
    fn __gmpz_clear(x: *mut Mpz);
    fn __gmpz_import(
        rop: *mut Mpz,
        count: usize,
        order: c_int,
        size: usize,
        endian: c_int,
        nails: usize,
        op: *const c_void,
    );
    fn __gmpz_export(
        rop: *mut c_void,
        countp: *mut usize,
        order: c_int,
        size: usize,
        endian: c_int,
        nails: usize,
        op: *const Mpz,
    ) -> *mut c_void;
    fn __gmpz_powm_sec(rop: *mut Mpz, base: *const Mpz, exp: *const Mpz, modulus: *const Mpz);
}

/// Owns the GMP integers for repeated `base^exp mod m` with `mpz_powm_sec`. Boxed so
/// that the `mpz_t`s never move once initialised.
pub struct GmpModexp {
    z: Box<[Mpz; 4]>,
}

const MODULUS: usize = 0;
const BASE: usize = 1;
const EXP: usize = 2;
const RESULT: usize = 3;

impl GmpModexp {
    /// Sets up for the big-endian `modulus` (odd), `base` and `exp` (`exp > 0`, as
    /// `mpz_powm_sec` requires).
    pub fn new(modulus: &[u8], base: &[u8], exp: &[u8]) -> Self {
        let mut z: Box<[Mpz; 4]> = Box::new(core::array::from_fn(|_| Mpz {
            alloc: 0,
            size: 0,
            d: core::ptr::null_mut(),
        }));
        for (x, bytes) in z.iter_mut().zip([modulus, base, exp, &[]]) {
            // SAFETY: `x` is a writable `mpz_t` that stays where it is (boxed); `bytes`
            // is readable for `bytes.len()` one-byte words, most significant first.
            unsafe {
                __gmpz_init(x);
                __gmpz_import(x, bytes.len(), 1, 1, 1, 0, bytes.as_ptr().cast());
            }
        }
        Self { z }
    }

    /// `base^exp mod modulus`, as `out.len()` big-endian bytes.
    ///
    /// # Panics
    /// If the result does not fit in `out`.
    pub fn run(&mut self, out: &mut [u8]) {
        let z = self.z.as_mut_ptr();
        // SAFETY: all four `mpz_t`s were initialised in `new`; the result is distinct
        // from the inputs, and the modulus is odd.
        unsafe { __gmpz_powm_sec(z.add(RESULT), z.add(BASE), z.add(EXP), z.add(MODULUS)) };
        let mut buf = [0u8; 128];
        let mut count = 0usize;
        // SAFETY: mpz_export writes `count` bytes (at most the result's size, below the
        // 768-bit modulus, so at most 96 <= 128) into `buf`.
        unsafe {
            __gmpz_export(
                buf.as_mut_ptr().cast(),
                &mut count,
                1,
                1,
                1,
                0,
                z.add(RESULT),
            )
        };
        assert!(count <= out.len(), "result does not fit");
        let pad = out.len() - count;
        out[..pad].fill(0);
        out[pad..].copy_from_slice(&buf[..count]);
    }
}

impl Drop for GmpModexp {
    fn drop(&mut self) {
        for x in self.z.iter_mut() {
            // SAFETY: each was initialised once in `new` and is cleared once, here.
            unsafe { __gmpz_clear(x) };
        }
    }
}
