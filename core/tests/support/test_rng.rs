//! The repeatable RNG of these tests (xorshift64*, not cryptographic), one copy shared
//! with the key cache benchmark: it lives in `ssmail-testkit` (feature `rng`).

pub use ssmail_testkit::rng::TestRng;
