//! The Montgomery multiplication backends, one file each behind one signature:
//! `mont_mul(a, b, n, n0) -> a·b·R⁻¹ mod n` over `LIMBS` limbs, inputs below `n`, output
//! fully reduced. Only the portable backend exists so far; the x86 assembly backends of
//! this crate's issue are still to come.

pub(crate) mod portable;
