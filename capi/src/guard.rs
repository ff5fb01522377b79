//! The boundary: no panic crosses into C, and C pointers become Rust values only after
//! their NULL check, through these few helpers.

#[cfg(feature = "std")]
use std::panic::{catch_unwind, AssertUnwindSafe};

use zeroize::Zeroizing;

use crate::result::ssmail_result;

/// Runs an entry point's body; a panic becomes `SSMAIL_ERR_PANIC`.
///
/// `AssertUnwindSafe`: after a panic the caller gets an error code and the handle is
/// left as the panic left it; no Rust code observes a broken invariant afterwards
/// except through another call, which rechecks its arguments.
#[cfg(feature = "std")]
pub(crate) fn guard(body: impl FnOnce() -> Result<(), ssmail_result>) -> ssmail_result {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => ssmail_result::SSMAIL_OK,
        Ok(Err(code)) => code,
        Err(_) => ssmail_result::SSMAIL_ERR_PANIC,
    }
}

/// Without std: the body's code (a panic stops in the crate's panic handler).
#[cfg(not(feature = "std"))]
pub(crate) fn guard(body: impl FnOnce() -> Result<(), ssmail_result>) -> ssmail_result {
    match body() {
        Ok(()) => ssmail_result::SSMAIL_OK,
        Err(code) => code,
    }
}

/// [`guard`] for the entry points that return nothing (free, apply): a panic is
/// swallowed, since unwinding into C is undefined behaviour.
pub(crate) fn guard_void(body: impl FnOnce()) {
    #[cfg(feature = "std")]
    let _ = catch_unwind(AssertUnwindSafe(body));
    #[cfg(not(feature = "std"))]
    body();
}

/// Copies `N` bytes from a C array into a buffer wiped when dropped.
///
/// # Safety
/// `ptr` is NULL or valid for reading `N` bytes.
pub(crate) unsafe fn read_array<const N: usize>(
    ptr: *const u8,
) -> Result<Zeroizing<[u8; N]>, ssmail_result> {
    if ptr.is_null() {
        return Err(ssmail_result::SSMAIL_ERR_NULL_POINTER);
    }
    let mut out = Zeroizing::new([0u8; N]);
    // SAFETY: the caller promises `ptr` is valid for N bytes; `out` is a fresh local,
    // so the two do not overlap; bytes have no alignment.
    unsafe { core::ptr::copy_nonoverlapping(ptr, out.as_mut_ptr(), N) };
    Ok(out)
}

/// Copies `value` into a C array of `N` bytes.
///
/// # Safety
/// `ptr` is valid for writing `N` bytes (checked non-NULL before).
pub(crate) unsafe fn write_array<const N: usize>(ptr: *mut u8, value: &[u8; N]) {
    // SAFETY: the caller promises `ptr` is valid for N bytes; every caller passes a
    // local `value` (inputs are copied in before outputs are written), so they do not
    // overlap even when C passes one buffer as both input and output.
    unsafe { core::ptr::copy_nonoverlapping(value.as_ptr(), ptr, N) };
}

/// Fails with `SSMAIL_ERR_NULL_POINTER` if any of `ptrs` is NULL.
pub(crate) fn non_null(ptrs: &[*const u8]) -> Result<(), ssmail_result> {
    if ptrs.iter().any(|p| p.is_null()) {
        Err(ssmail_result::SSMAIL_ERR_NULL_POINTER)
    } else {
        Ok(())
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_a_code() {
        let r = guard(|| panic!("boom"));
        assert_eq!(r, ssmail_result::SSMAIL_ERR_PANIC);
        let r = guard(|| Err(ssmail_result::SSMAIL_ERR_IO));
        assert_eq!(r, ssmail_result::SSMAIL_ERR_IO);
        let mut ran = false;
        guard_void(|| {
            ran = true;
            panic!("boom")
        });
        assert!(ran);
    }
}
