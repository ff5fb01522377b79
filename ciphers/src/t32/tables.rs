//! SOBER-t32's constant tables: the S-box (data) and the four α tables (built at compile time).

/// The S-box: `SBOX[i] = F[i] << 24 | Q[i]`.
///
/// Provenance: `F` is the SKIPJACK F-table (NIST, SKIPJACK and KEA specification, 1998);
/// `Q` is the 24-bit Q-box of Dawson, Millan, Burnett and Carter (QUT, 1999, "On the design
/// of 8×32 S-boxes"), also used by SOBER-128. Taken from `vectors/data/t32-sbox.txt`
/// (a copy of the project's shared vector file); a test checks the two agree and that the
/// table's SHA-256 is the one in docs/t32.md §2.3.
pub(crate) const SBOX: [u32; 256] = [
    0xa3aa1887, 0xd75e435c, 0x0965c042, 0x830e6ef4, 0xf857ee20, 0x4884fed3, 0xf666c502, 0xf454e8ae,
    0xb32ee9d9, 0x211f38d4, 0x15829b5d, 0x785cdf3c, 0x99864249, 0xb12e3963, 0xaff4429f, 0xf9432c35,
    0xe7f40325, 0x2dc0dd70, 0x4d973ded, 0x8a02dc5e, 0xce175b42, 0x4c0012bf, 0xca94d78c, 0x2eaab26b,
    0x52c11b9a, 0x95168146, 0xd9ea8ec5, 0x1e8ac28f, 0x4eed5c0f, 0x38b4101c, 0x442db082, 0x280929e1,
    0x0a1843de, 0xdf8299fc, 0x022fbc4b, 0xa03915dd, 0x17a803fa, 0xf146b2de, 0x60233342, 0x68cee7c3,
    0x12d607ef, 0xb797ebab, 0x7a7f859b, 0xc31f2e2f, 0xe95b71da, 0xfae2269a, 0x3d39c3d1, 0x53a56b36,
    0x96c9def2, 0x84c9fc5f, 0x6b27b3a3, 0xbaa56ddf, 0xf225b510, 0x630f85a7, 0x9ae82e71, 0x19cb8816,
    0x7c951e2a, 0xaef5f6af, 0xe5cbc2b3, 0xf54ff55d, 0xf76b6214, 0x160b83e3, 0x6a9ea6f5, 0xa2e041af,
    0x392f1f17, 0xb63b99ee, 0x7ba65ec0, 0x0f7016c6, 0xc17709a4, 0x93326e01, 0x81b280d9, 0x1bfb1418,
    0xeeaff227, 0xb4548203, 0x1a6b9d96, 0xea17a8c0, 0xd0d5bf6e, 0x91ee7888, 0x2ffcfe64, 0xb8a193cd,
    0x550d0184, 0xb9ae4930, 0xda014f36, 0x85a87088, 0x3fad6c2a, 0x4122c678, 0xbf204de7, 0xe0c2e759,
    0x5a00248e, 0x583b446b, 0x800d9fc2, 0x5f14a895, 0x666cc3a1, 0x0bfef170, 0xd8c19155, 0x907b8a66,
    0x351b5e69, 0xd5a8623e, 0xc0bdfa35, 0xa7f068cc, 0x333a6acd, 0x0655e936, 0x65602db9, 0x69df13c1,
    0x450bb16d, 0x0080b83c, 0x94b23763, 0x56d8a911, 0x6db6bc13, 0x985579d7, 0x9b5c2fa8, 0x76f4196e,
    0x97db5476, 0xfc64a866, 0xb26e16ad, 0xc27fc515, 0xb06feb3c, 0xfec8a306, 0xdb6799d9, 0x201a9133,
    0xe12466dd, 0xebeb5dcd, 0xd6118f50, 0xe4afb226, 0xddb9cef3, 0x47b36189, 0x4a7a19b1, 0x1dc73084,
    0x427ded5c, 0xed8bc58f, 0x9edde421, 0x6e1e47fb, 0x49cc715e, 0x3cc0ff99, 0xcd122f0f, 0x43d25184,
    0x277a5e6c, 0xd2bf18bc, 0x07d7c6e0, 0xd4b7e420, 0xde1f523f, 0xc7d9b8a2, 0x67da1a6b, 0x18888c02,
    0x89d1e354, 0xcbba7d79, 0x30cc7753, 0x1f2d9655, 0x8d829da1, 0xc61590a7, 0x8fc1c149, 0xaa537f1c,
    0xc8779b69, 0x7471f2b7, 0xdc3c58fa, 0xc9dc4418, 0x5d8c8c76, 0x5c20d9f0, 0x31a80d4d, 0xa474c473,
    0x709410e9, 0x880e4211, 0x61c8082b, 0x2c6b334a, 0x9ff68ed2, 0x0d43cc1b, 0x2b3c0ff3, 0x87e564a0,
    0x50f55a4f, 0x8240f8e7, 0x54a7f15f, 0x6400fe21, 0x266d37d6, 0x7dd506f1, 0x03e00973, 0x40bbde36,
    0x34670fa8, 0x4b31ab9e, 0x1cdab618, 0x731f52f5, 0xd158eb4f, 0xc4b9e343, 0xfd8d77dd, 0x3bb93da6,
    0xcc0fd52d, 0xfb5412f8, 0x7fa63360, 0xabe53ad0, 0xe6700f1c, 0x3e24ed0b, 0x5b3dc1ec, 0xa5366795,
    0xad549d15, 0x04ce46d7, 0x237abe76, 0x9c48e0a0, 0x14f07c02, 0x511249b7, 0x229ed6ba, 0xf0a47f78,
    0x29cfffbd, 0x7907ca84, 0x7165f4da, 0x7e9f35da, 0xffd2aa44, 0x8c7452ac, 0x0ed674a7, 0xe261a46a,
    0x0c63152a, 0xef12b7aa, 0xbc615927, 0x724fb118, 0x7551758d, 0x6f81687b, 0x3752f0b3, 0xa14254ed,
    0xecc77271, 0xd331acab, 0x8ef94aec, 0x62e994cd, 0x8b4d9e81, 0x86623730, 0x108a21e8, 0xe8917f0b,
    0x08a9b5d6, 0x7797adf8, 0x11d30431, 0xbecac921, 0x92b35d46, 0x4f430a36, 0x24194022, 0xc5bca65e,
    0x32ec70ba, 0x36aea8cc, 0x9d7bae8b, 0xcf2924d5, 0xf3098a5a, 0xa6396b81, 0xbbde2522, 0xac5c1cb8,
    0x5eb8fe1d, 0x6cb3c697, 0xa9164f83, 0x13c16376, 0x5719224c, 0x25203b35, 0xb53ac0fe, 0xe366a19a,
    0xbdf0b24f, 0xa8fda998, 0x3ad52d71, 0x010896a8, 0x05e6053f, 0x59b0d300, 0x2a99cbcc, 0x465e3d40,
];

/// The low 32 bits of the field polynomial: P(x) = x^32 + 0x65656565 (docs/t32.md §2.2).
pub(crate) const POLY_LOW: u32 = 0x6565_6565;

/// α, the LFSR feedback multiplier, as an element of GF(2)[x]/P(x).
pub(crate) const ALPHA: u32 = 0xC2DB_2AA3;

/// Multiplies two field elements bit by bit (shift and reduce); used only to build tables.
pub(crate) const fn gf_mul(a: u32, b: u32) -> u32 {
    let mut acc = 0u32;
    let mut a = a;
    let mut i = 0;
    while i < 32 {
        if (b >> i) & 1 == 1 {
            acc ^= a;
        }
        // a <- a·x mod P
        let carry = a >> 31;
        a <<= 1;
        if carry == 1 {
            a ^= POLY_LOW;
        }
        i += 1;
    }
    acc
}

/// `ALPHA_TABLES[j][b] = α·(b·x^(8j))`, so that α·w is the XOR of four lookups.
pub(crate) static ALPHA_TABLES: [[u32; 256]; 4] = build_alpha_tables();

const fn build_alpha_tables() -> [[u32; 256]; 4] {
    let mut t = [[0u32; 256]; 4];
    let mut j = 0;
    while j < 4 {
        let mut b = 0;
        while b < 256 {
            t[j][b] = gf_mul(ALPHA, (b as u32) << (8 * j));
            b += 1;
        }
        j += 1;
    }
    t
}

/// α·w through the four tables (the linear-map form of docs/t32.md §2.2).
#[inline(always)]
pub(crate) fn mul_alpha(w: u32) -> u32 {
    ALPHA_TABLES[0][(w & 0xff) as usize]
        ^ ALPHA_TABLES[1][((w >> 8) & 0xff) as usize]
        ^ ALPHA_TABLES[2][((w >> 16) & 0xff) as usize]
        ^ ALPHA_TABLES[3][(w >> 24) as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_check_values_from_the_spec() {
        assert_eq!(gf_mul(ALPHA, 1), 0xc2db2aa3);
        assert_eq!(gf_mul(ALPHA, 2), 0xe0d33023);
        assert_eq!(gf_mul(ALPHA, 0x8000_0000), 0x72897a3c);
        assert_eq!(gf_mul(ALPHA, 0xffff_ffff), 0x1d474a49);
        assert_eq!(gf_mul(ALPHA, 0x1234_5678), 0x5bcca0e3);
        assert_eq!(gf_mul(0x8000_0000, 2), POLY_LOW); // x^32 mod P
        assert_eq!(ALPHA_TABLES[1][1], 0x09f871f4);
        assert_eq!(ALPHA_TABLES[2][1], 0x199015e2);
        assert_eq!(ALPHA_TABLES[3][1], 0x1d986f89);
    }

    #[test]
    fn table_multiply_equals_bitwise_multiply() {
        let mut w = 0x0123_4567u32;
        for _ in 0..10_000 {
            assert_eq!(mul_alpha(w), gf_mul(ALPHA, w));
            w = w.wrapping_mul(0x9E37_79B9).wrapping_add(0x7F4A_7C15);
        }
    }

    #[test]
    fn sbox_ends_match_the_spec() {
        assert_eq!(
            &SBOX[..4],
            &[0xa3aa1887, 0xd75e435c, 0x0965c042, 0x830e6ef4]
        );
        assert_eq!(SBOX[255], 0x465e3d40);
    }
}

#[cfg(test)]
mod data_tests {
    use super::*;
    use sha2::{Digest, Sha256};

    fn sha256_be(words: &[u32]) -> [u8; 32] {
        let mut h = Sha256::new();
        for w in words {
            h.update(w.to_be_bytes());
        }
        h.finalize().into()
    }

    #[test]
    fn sbox_equals_the_vector_file() {
        assert_eq!(ssmail_vectors::t32_sbox(), SBOX.to_vec());
    }

    #[test]
    fn table_digests_match_the_spec() {
        use hex_literal::hex;
        assert_eq!(
            sha256_be(&SBOX),
            hex!("0be44ee292708fab358b2e09324b79e13dfd6db3a8edc97c637cb3d5bb17766c")
        );
        let f: [u8; 256] = core::array::from_fn(|i| (SBOX[i] >> 24) as u8);
        assert_eq!(
            <[u8; 32]>::from(Sha256::digest(f)),
            hex!("3587a8b7cde06e199ec29100dfe96c61ae1999de95308b8abc49d38f12565624")
        );
        let want = [
            hex!("ab8d2a6b06e86edf2e04af04b7873d9bf690587071493b33c6403f7392b75fbf"),
            hex!("546571a5acad1e7c64891e65d5380a0fd2340762129dc47f76aaf28553c092f5"),
            hex!("761a6e384fd9e41c400ebdf46b8ef0011d012be9f1a4cec435335ebe1209a927"),
            hex!("1207ad0ce22ab8ab9d132b1ede7602962e5285a0f2170075fdc335e8f807104e"),
        ];
        for (t, w) in ALPHA_TABLES.iter().zip(want) {
            assert_eq!(sha256_be(t), w);
        }
    }
}
