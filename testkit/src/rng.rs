//! A repeatable RNG for tests and benchmarks: xorshift64*. NOT a cryptographic RNG; it
//! only drives key generation where the same seed must give the same keys (core's tests,
//! the key cache benchmark).

/// xorshift64* over a 64-bit state.
pub struct TestRng(pub u64);

impl rand_core::TryRng for TestRng {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(self.try_next_u64()? as u32)
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        Ok(self.0.wrapping_mul(0x2545_F491_4F6C_DD1D))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for chunk in dst.chunks_mut(8) {
            let v = self.try_next_u64()?.to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        Ok(())
    }
}

// Marked cryptographic only so that key generation, which asks for that bound, accepts
// it in tests; the stream is predictable by design.
impl rand_core::TryCryptoRng for TestRng {}
