//! The run's inputs, all drawn from one seed so that the host can be told the seed and
//! the lines carry the inputs themselves. xorshift64*: NOT a cryptographic generator;
//! here it only has to vary the inputs from run to run.

/// The seed: `SSMAIL_FW_SEED` (up to 16 hex digits) when the image was built, else a
/// fixed one. `run.sh --seed` sets it.
pub fn seed() -> u64 {
    const DEFAULT: u64 = 0x5353_4d41_494c_4657; // "SSMAILFW"
    match option_env!("SSMAIL_FW_SEED") {
        None | Some("") => DEFAULT,
        Some(text) => parse_hex(text).expect("SSMAIL_FW_SEED: 1 to 16 hex digits"),
    }
}

fn parse_hex(text: &str) -> Option<u64> {
    if text.len() > 16 {
        return None;
    }
    u64::from_str_radix(text, 16).ok()
}

/// A repeatable stream of bytes from the seed.
pub struct Inputs(u64);

impl Inputs {
    /// The stream for `seed` (a zero seed, which xorshift would keep at zero, is moved).
    pub fn new(seed: u64) -> Self {
        Self(if seed == 0 {
            0x9e37_79b9_7f4a_7c15
        } else {
            seed
        })
    }

    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Fills `dst`.
    pub fn fill(&mut self, dst: &mut [u8]) {
        for chunk in dst.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }

    /// `N` fresh bytes.
    pub fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut b = [0; N];
        self.fill(&mut b);
        b
    }
}

impl rand_core::TryRng for Inputs {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(self.next_u64() as u32)
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        Ok(self.next_u64())
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        self.fill(dst);
        Ok(())
    }
}

// The state machines want a cryptographic RNG for their nonces; this one stands in for
// it so that the run is repeatable (a device would use its TRNG here).
impl rand_core::TryCryptoRng for Inputs {}
