//! Constant-time check under valgrind memcheck: the secret inputs are marked
//! "undefined" through valgrind client requests, so memcheck reports any conditional
//! jump, conditional move or memory address that depends on them.
//!
//! Run: `valgrind --error-exitcode=1 target/release/examples/ct_valgrind` (as `.ci/run`
//! does). Outside valgrind the client requests are no-ops and the program just computes.
//! It checks the exponentiation of [`MontyParams::pow`] with the exponent secret, the
//! shared secret with both the base and the exponent secret, and the base-2 public key,
//! on every backend this CPU can run; then the multi-buffer calls
//! (`oakley::batch` for shared secrets and public keys,
//! `MontyParams::pow_many_with`) with all eight bases and exponents secret.
//!
//! valgrind 3.19 reports AVX2 in its CPUID when the CPU has it, so `x86_64-adx-zen` runs
//! its AVX2 table lookup here (checked once by making the scalar fallback panic: the
//! run still passed).
//!
//! NOTE: valgrind 3.19 (Debian bookworm) does not decode AVX-512, so under valgrind the
//! IFMA multi-buffer kernels are skipped (they would die of SIGILL) and only the
//! fallback (one exponentiation after another on each single backend) is checked. The
//! IFMA kernels are constant time by construction (see `src/backends/ifma/lanes.rs`), and
//! `benches/benches/ct_dudect.rs` checks their timing statistically.

use ssmail_bigint_x86::Paths as _;
use ssmail_bigint_x86::{Backend, LANES, MultiBackend, SecretExponent, U768, oakley};

/// valgrind's `VG_USERREQ__MAKE_MEM_UNDEFINED` and `..._DEFINED` (memcheck.h).
const MAKE_MEM_UNDEFINED: usize = 0x4D43_0001;
const MAKE_MEM_DEFINED: usize = 0x4D43_0002;

/// Issues a valgrind client request; returns 0 when not running under valgrind.
#[cfg(target_arch = "x86_64")]
fn client_request(request: usize, addr: usize, len: usize) -> usize {
    let args: [usize; 6] = [request, addr, len, 0, 0, 0];
    let mut result: usize = 0;
    // SAFETY: valgrind's documented "special instruction sequence" for amd64: four
    // rotations of rdi that cancel out and an `xchg rbx, rbx` that changes nothing. On a
    // real CPU it has no effect; under valgrind it reads the six-word request at rax and
    // writes the answer to rdx. rdi is restored by the rotations (3+13+61+51 = 128).
    unsafe {
        core::arch::asm!(
            "rol rdi, 3",
            "rol rdi, 13",
            "rol rdi, 61",
            "rol rdi, 51",
            "xchg rbx, rbx",
            in("rax") args.as_ptr(),
            inout("rdx") result,
            inout("rdi") 0usize => _,
            options(nostack, preserves_flags),
        );
    }
    result
}

/// Issues a valgrind client request; returns 0 when not running under valgrind.
#[cfg(target_arch = "x86")]
fn client_request(request: usize, addr: usize, len: usize) -> usize {
    let args: [usize; 6] = [request, addr, len, 0, 0, 0];
    let mut result: usize = 0;
    // SAFETY: valgrind's "special instruction sequence" for x86 (valgrind.h,
    // `__SPECIAL_INSTRUCTION_PREAMBLE` and `VALGRIND_DO_CLIENT_REQUEST_EXPR`): four
    // rotations of edi that cancel out (3+13+29+19 = 64) and an `xchg ebx, ebx` that
    // changes nothing (ebx cannot be an operand, but swapping it with itself keeps it).
    // On a real CPU it has no effect but on the rotations' flags; under valgrind it
    // reads the six-word request at eax and writes the answer to edx.
    unsafe {
        core::arch::asm!(
            "rol edi, 3",
            "rol edi, 13",
            "rol edi, 29",
            "rol edi, 19",
            "xchg ebx, ebx",
            in("eax") args.as_ptr(),
            inout("edx") result,
            inout("edi") 0usize => _,
            options(nostack),
        );
    }
    result
}

#[cfg(not(any(target_arch = "x86_64", target_arch = "x86")))]
fn client_request(_request: usize, _addr: usize, _len: usize) -> usize {
    0
}

/// Marks `value`'s bytes as secret (undefined to memcheck).
fn secret<T>(value: &T) {
    client_request(
        MAKE_MEM_UNDEFINED,
        core::ptr::from_ref(value) as usize,
        size_of::<T>(),
    );
}

/// Marks `value`'s bytes as public again, so that printing or comparing it is no error.
fn public<T>(value: &T) {
    client_request(
        MAKE_MEM_DEFINED,
        core::ptr::from_ref(value) as usize,
        size_of::<T>(),
    );
}

/// Whether the kernel reports BMI2 and ADX for the real CPU (valgrind does not change
/// `/proc/cpuinfo`).
#[cfg(target_arch = "x86_64")]
fn host_has_bmi2_adx() -> bool {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    info.lines()
        .find(|l| l.starts_with("flags"))
        .is_some_and(|l| {
            let has = |f: &str| l.split_whitespace().any(|w| w == f);
            has("bmi2") && has("adx")
        })
}

fn main() {
    let under_valgrind = client_request(0x1001, 0, 0); // RUNNING_ON_VALGRIND
    // `--leak` runs the variable-time exponentiation on a secret exponent instead, which
    // must make memcheck complain: proof that this check can fail.
    let leak = std::env::args().any(|a| a == "--leak");
    let mut bytes = [0u8; 96];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(151).wrapping_add(7);
    }
    let exp = SecretExponent::from_be_bytes(&bytes);
    bytes.reverse();
    let base = U768::from_be_bytes(&bytes);

    if leak {
        let e = U768::from_be_bytes(&bytes);
        secret(&e);
        let r = oakley::PARAMS.pow_vartime(&base, &e);
        public(&r);
        println!("ct_valgrind --leak: ran the variable-time path on a secret exponent");
        return;
    }

    // valgrind's synthetic CPUID hides ADX (valgrind 3.19 executes mulx, adcx and adox
    // all the same): when the real CPU has them, check the x86_64-adx backend too.
    #[cfg(target_arch = "x86_64")]
    if under_valgrind != 0 && host_has_bmi2_adx() {
        Backend::assume_bmi2_adx();
    }

    // Every backend this CPU runs, each checked the same way. The IFMA one is never
    // runnable under valgrind (its CPUID hides AVX-512): say so.
    if let (true, Some(ifma)) = (under_valgrind != 0, Backend::from_name("x86_64-ifma")) {
        println!(
            "ct_valgrind: {}: NOT checked: valgrind cannot run AVX-512 (see benches/benches/ct_dudect.rs)",
            ifma.name()
        );
    }
    for backend in Backend::runnable() {
        // Exponent secret: the public-key computation 2^r.
        secret(&exp);
        let pk = oakley::public_key(&exp, Some(backend));
        public(&pk);

        // Exponent and base secret: the shared secret peer^r (the peer key is public on
        // the wire, but the check is stronger with it secret too).
        secret(&base);
        let z = oakley::shared_secret(&base, &exp, Some(backend));
        public(&z);

        public(&exp);
        public(&base);
        println!(
            "ct_valgrind: {}: ran under valgrind: {}; public key {:02x}{:02x}.., shared secret {:02x}{:02x}..",
            backend.name(),
            under_valgrind != 0,
            pk.to_be_bytes()[0],
            pk.to_be_bytes()[1],
            z.to_be_bytes()[0],
            z.to_be_bytes()[1]
        );
    }

    // The multi-buffer calls: eight different bases and exponents, all secret.
    let exps: [SecretExponent; LANES] = core::array::from_fn(|l| {
        let mut b = bytes;
        b.rotate_left(l * 11);
        b[0] ^= l as u8;
        SecretExponent::from_be_bytes(&b)
    });
    let bases: [U768; LANES] = core::array::from_fn(|l| {
        let mut b = bytes;
        b.rotate_right(l * 5 + 1);
        U768::from_be_bytes(&b)
    });
    for multi in MultiBackend::all() {
        let vector = !matches!(multi, MultiBackend::Each(_));
        if vector && under_valgrind != 0 {
            // valgrind hides AVX-512 from CPUID, so the lanes would not even be chosen;
            // say so, since this is the part of the crate valgrind cannot check.
            println!(
                "ct_valgrind: multi {}: NOT checked: valgrind cannot run AVX-512 (see benches/benches/ct_dudect.rs)",
                multi.name()
            );
            continue;
        }
        if !multi.is_runnable() {
            continue;
        }
        secret(&exps);
        let pk = {
            let mut out = [U768::ZERO; LANES];
            oakley::batch(None, &exps, &mut out, Some(multi));
            out
        };
        public(&pk);
        secret(&bases);
        let z = {
            let mut out = [U768::ZERO; LANES];
            oakley::batch(Some(&bases[..]), &exps, &mut out, Some(multi));
            out
        };
        public(&z);
        let y = oakley::PARAMS.pow_many_with(multi, &bases, &exps);
        public(&y);
        public(&exps);
        public(&bases);
        // The lanes must equal the single API (checked outside the secret region).
        for l in 0..LANES {
            assert_eq!(pk[l], oakley::public_key(&exps[l], None), "lane {l}");
            assert_eq!(
                z[l],
                oakley::shared_secret(&bases[l], &exps[l], None),
                "lane {l}"
            );
            assert_eq!(y[l], z[l], "lane {l}");
        }
        println!(
            "ct_valgrind: multi {}: ran under valgrind: {}; {LANES} public keys and shared secrets",
            multi.name(),
            under_valgrind != 0,
        );
    }
}
