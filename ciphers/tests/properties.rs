//! Properties of both ciphers on random keys and data.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
#![allow(
    clippy::integer_division_remainder_used,
    reason = "test arithmetic on public values"
)]

use proptest::prelude::*;
use ssmail_ciphers::{Arrsyfor, KeyInit, StreamCipher, T32};

fn split_apply<C: StreamCipher>(mut c: C, data: &[u8], cuts: &[usize]) -> Vec<u8> {
    let mut out = data.to_vec();
    let mut cuts: Vec<usize> = cuts.iter().map(|&c| c % (data.len() + 1)).collect();
    cuts.sort_unstable();
    let mut start = 0;
    for cut in cuts.into_iter().chain([data.len()]) {
        c.apply_keystream(&mut out[start..cut]);
        start = cut;
    }
    out
}

proptest! {
    #[test]
    fn arrsyfor_roundtrip_and_splits(
        key in proptest::collection::vec(any::<u8>(), 1..=256),
        data in proptest::collection::vec(any::<u8>(), 0..3000),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let whole = split_apply(Arrsyfor::new_from_slice(&key).unwrap(), &data, &[]);
        let pieces = split_apply(Arrsyfor::new_from_slice(&key).unwrap(), &data, &cuts);
        prop_assert_eq!(&pieces, &whole);
        let back = split_apply(Arrsyfor::new_from_slice(&key).unwrap(), &whole, &cuts);
        prop_assert_eq!(back, data);
    }

    #[test]
    fn t32_roundtrip_and_splits(
        key in proptest::collection::vec(any::<u8>(), 1..=32),
        data in proptest::collection::vec(any::<u8>(), 0..3000),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let whole = split_apply(T32::new_from_slice(&key).unwrap(), &data, &[]);
        let pieces = split_apply(T32::new_from_slice(&key).unwrap(), &data, &cuts);
        prop_assert_eq!(&pieces, &whole);
        let back = split_apply(T32::new_from_slice(&key).unwrap(), &whole, &cuts);
        prop_assert_eq!(back, data);
    }
}
