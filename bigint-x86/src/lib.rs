//! Constant-time 768-bit Montgomery exponentiation for ssmail's Diffie-Hellman step.
//! Empty until its issue is taken up.
#![no_std]
