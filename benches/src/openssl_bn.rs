//! OpenSSL's constant-time modular exponentiation (`BN_mod_exp_mont_consttime` from
//! libcrypto), through a small FFI shim: the peer the 768-bit exponentiation is measured
//! against.

use core::ffi::c_int;

#[repr(C)]
struct Bignum {
    _private: [u8; 0],
}

#[repr(C)]
struct BnCtx {
    _private: [u8; 0],
}

#[repr(C)]
struct BnMontCtx {
    _private: [u8; 0],
}

unsafe extern "C" {
    fn BN_new() -> *mut Bignum;
    fn BN_free(a: *mut Bignum);
    fn BN_bin2bn(s: *const u8, len: c_int, ret: *mut Bignum) -> *mut Bignum;
    fn BN_bn2binpad(a: *const Bignum, to: *mut u8, tolen: c_int) -> c_int;
    fn BN_CTX_new() -> *mut BnCtx;
    fn BN_CTX_free(c: *mut BnCtx);
    fn BN_MONT_CTX_new() -> *mut BnMontCtx;
    fn BN_MONT_CTX_free(m: *mut BnMontCtx);
    fn BN_MONT_CTX_set(m: *mut BnMontCtx, modulus: *const Bignum, ctx: *mut BnCtx) -> c_int;
    fn BN_mod_exp_mont_consttime(
        rr: *mut Bignum,
        a: *const Bignum,
        p: *const Bignum,
        m: *const Bignum,
        ctx: *mut BnCtx,
        in_mont: *mut BnMontCtx,
    ) -> c_int;
}

/// Owns the OpenSSL objects for repeated `base^exp mod m` with one modulus.
pub struct OpensslModexp {
    modulus: *mut Bignum,
    base: *mut Bignum,
    exp: *mut Bignum,
    result: *mut Bignum,
    ctx: *mut BnCtx,
    mont: *mut BnMontCtx,
}

fn bn(bytes: &[u8]) -> *mut Bignum {
    let len = c_int::try_from(bytes.len()).expect("short input");
    // SAFETY: `bytes` is valid for `len` bytes; a null `ret` makes OpenSSL allocate.
    let b = unsafe { BN_bin2bn(bytes.as_ptr(), len, core::ptr::null_mut()) };
    assert!(!b.is_null(), "BN_bin2bn failed");
    b
}

impl OpensslModexp {
    /// Sets up for the big-endian `modulus` (odd), `base` and `exp`.
    ///
    /// # Panics
    /// If OpenSSL fails to allocate.
    pub fn new(modulus: &[u8], base: &[u8], exp: &[u8]) -> Self {
        let m = bn(modulus);
        // SAFETY: plain constructors; checked for null below.
        let (ctx, mont, result) = unsafe { (BN_CTX_new(), BN_MONT_CTX_new(), BN_new()) };
        assert!(
            !ctx.is_null() && !mont.is_null() && !result.is_null(),
            "OpenSSL alloc"
        );
        // SAFETY: all pointers were just created by OpenSSL and are not null.
        let ok = unsafe { BN_MONT_CTX_set(mont, m, ctx) };
        assert_eq!(ok, 1, "BN_MONT_CTX_set failed");
        Self {
            modulus: m,
            base: bn(base),
            exp: bn(exp),
            result,
            ctx,
            mont,
        }
    }

    /// `base^exp mod modulus`, as `len` big-endian bytes.
    ///
    /// # Panics
    /// If OpenSSL reports an error.
    pub fn run(&mut self, out: &mut [u8]) {
        // SAFETY: every pointer is owned by `self` and valid; `mont` was set for `modulus`.
        let ok = unsafe {
            BN_mod_exp_mont_consttime(
                self.result,
                self.base,
                self.exp,
                self.modulus,
                self.ctx,
                self.mont,
            )
        };
        assert_eq!(ok, 1, "BN_mod_exp_mont_consttime failed");
        let len = c_int::try_from(out.len()).expect("short output");
        // SAFETY: `out` is valid for `len` bytes.
        let n = unsafe { BN_bn2binpad(self.result, out.as_mut_ptr(), len) };
        assert_eq!(n, len, "result does not fit");
    }
}

impl Drop for OpensslModexp {
    fn drop(&mut self) {
        // SAFETY: each pointer was created by the matching OpenSSL constructor and is
        // freed once, here.
        unsafe {
            BN_free(self.modulus);
            BN_free(self.base);
            BN_free(self.exp);
            BN_free(self.result);
            BN_MONT_CTX_free(self.mont);
            BN_CTX_free(self.ctx);
        }
    }
}
