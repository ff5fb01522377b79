//! The CPU's vendor, family, model and brand string from `cpuid`.

use core::sync::atomic::{AtomicU8, Ordering};

/// Who made the CPU, as far as choosing a path goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vendor {
    /// `GenuineIntel`.
    Intel,
    /// `AuthenticAMD`.
    Amd,
    /// Anyone else, or no `cpuid` (another architecture).
    Other,
}

/// The CPU's identification, as `lscpu` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    /// The 12-byte CPUID vendor string (`GenuineIntel`, `AuthenticAMD`).
    pub vendor: [u8; 12],
    /// The display family (base plus extended), as `lscpu`'s "CPU family".
    pub family: u32,
    /// The display model (extended model folded in), as `lscpu`'s "Model".
    pub model: u32,
    /// The 48-byte brand string, NUL-padded; all NULs where the CPU has none.
    pub brand: [u8; 48],
}

impl Identity {
    /// The vendor string as text (empty if it is not ASCII).
    pub fn vendor_str(&self) -> &str {
        core::str::from_utf8(&self.vendor).unwrap_or_default()
    }

    /// The brand string as text, without its padding (empty if it is not ASCII).
    pub fn brand_str(&self) -> &str {
        let end = self.brand.iter().position(|&b| b == 0).unwrap_or(48);
        core::str::from_utf8(&self.brand[..end])
            .unwrap_or_default()
            .trim()
    }

    fn vendor_kind(&self) -> Vendor {
        match &self.vendor {
            b"GenuineIntel" => Vendor::Intel,
            b"AuthenticAMD" => Vendor::Amd,
            _ => Vendor::Other,
        }
    }
}

/// The vendor of the CPU, asked once and cached: `cpuid` traps to the hypervisor in
/// virtual machines, which costs microseconds, about a key setup.
pub fn vendor() -> Vendor {
    // 0: not asked yet; 1: Intel; 2: AMD; 3: other.
    static VENDOR: AtomicU8 = AtomicU8::new(0);
    match VENDOR.load(Ordering::Relaxed) {
        1 => Vendor::Intel,
        2 => Vendor::Amd,
        3 => Vendor::Other,
        _ => {
            let v = identity().map_or(Vendor::Other, |id| id.vendor_kind());
            let code = match v {
                Vendor::Intel => 1,
                Vendor::Amd => 2,
                Vendor::Other => 3,
            };
            VENDOR.store(code, Ordering::Relaxed);
            v
        }
    }
}

/// The CPU's identification, `None` without `cpuid` (another architecture).
/// Not cached: for reports, not hot paths.
pub fn identity() -> Option<Identity> {
    let leaf = cpuid_fn()?;
    let l0 = leaf(0);
    let mut vendor = [0u8; 12];
    for (chunk, word) in vendor.chunks_exact_mut(4).zip([l0[1], l0[3], l0[2]]) {
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    let (family, model) = if l0[0] >= 1 {
        display_family_model(leaf(1)[0])
    } else {
        (0, 0)
    };
    let mut brand = [0u8; 48];
    if leaf(0x8000_0000)[0] >= 0x8000_0004 {
        for (i, chunk) in brand.chunks_exact_mut(16).enumerate() {
            let r = leaf(0x8000_0002 + i as u32);
            for (c, w) in chunk.chunks_exact_mut(4).zip(r) {
                c.copy_from_slice(&w.to_le_bytes());
            }
        }
    }
    Some(Identity {
        vendor,
        family,
        model,
        brand,
    })
}

/// Family and model from leaf 1's eax. The display family adds the extended family
/// only to base family 15, and the display model folds in the extended model for
/// families 6 and 15 (Intel's SDM vol. 2A, CPUID; AMD's APM vol. 3, CPUID Fn0000_0001).
fn display_family_model(eax: u32) -> (u32, u32) {
    let base_family = (eax >> 8) & 0xf;
    let ext_family = (eax >> 20) & 0xff;
    let base_model = (eax >> 4) & 0xf;
    let ext_model = (eax >> 16) & 0xf;
    let family = if base_family == 15 {
        base_family + ext_family
    } else {
        base_family
    };
    let model = if base_family == 6 || base_family == 15 {
        (ext_model << 4) | base_model
    } else {
        base_model
    };
    (family, model)
}

/// `cpuid` of a leaf (subleaf 0) as `[eax, ebx, ecx, edx]`, if this CPU has the
/// instruction.
type Leaf = fn(u32) -> [u32; 4];

#[cfg(target_arch = "x86_64")]
fn cpuid_fn() -> Option<Leaf> {
    #[allow(
        unsafe_code,
        unused_unsafe,
        reason = "`__cpuid` is an unsafe fn on rustc 1.85 and safe on later ones"
    )]
    fn leaf(n: u32) -> [u32; 4] {
        // SAFETY: every x86_64 CPU has `cpuid`; it reads no memory, and leaves beyond
        // the maximum return data, not a fault.
        let r = unsafe { core::arch::x86_64::__cpuid(n) };
        [r.eax, r.ebx, r.ecx, r.edx]
    }
    Some(leaf)
}

#[cfg(target_arch = "x86")]
fn cpuid_fn() -> Option<Leaf> {
    #[allow(
        unsafe_code,
        unused_unsafe,
        reason = "`__cpuid` is an unsafe fn on rustc 1.85 and safe on later ones"
    )]
    fn leaf(n: u32) -> [u32; 4] {
        // SAFETY: Rust's 32-bit x86 targets start at the Pentium (i586), which has
        // `cpuid` (only some 486s lack it); it reads no memory.
        let r = unsafe { core::arch::x86::__cpuid(n) };
        [r.eax, r.ebx, r.ecx, r.edx]
    }
    Some(leaf)
}

#[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
fn cpuid_fn() -> Option<Leaf> {
    None
}

#[cfg(test)]
mod tests {
    use super::{Vendor, display_family_model, identity, vendor};

    #[test]
    fn family_and_model_as_lscpu_shows_them() {
        // AMD EPYC 7003 (Zen 3): family 25 model 1 (eax 0x00a00f11).
        assert_eq!(display_family_model(0x00a0_0f11), (25, 1));
        // Sapphire Rapids: family 6 model 143 (eax 0x000806f8).
        assert_eq!(display_family_model(0x0008_06f8), (6, 143));
        // Pentium (P54C): family 5 model 2; the extended fields do not apply.
        assert_eq!(display_family_model(0x0000_0525), (5, 2));
    }

    #[test]
    fn the_cached_vendor_is_the_identity_s() {
        let want = match identity().map(|i| i.vendor) {
            Some(v) if &v == b"GenuineIntel" => Vendor::Intel,
            Some(v) if &v == b"AuthenticAMD" => Vendor::Amd,
            _ => Vendor::Other,
        };
        assert_eq!(vendor(), want);
        assert_eq!(vendor(), want, "the cached answer");
        // The kernel's reading of the same CPUID leaves, where there is one, and where
        // this process sees the CPU the kernel sees: under an emulator (the CI runs the
        // i586 build in qemu-i386 -cpu pentium2) CPUID answers for the emulated CPU, and
        // then family and model differ from the kernel's too.
        extern crate std;
        if let (Ok(info), Some(id)) = (std::fs::read_to_string("/proc/cpuinfo"), identity()) {
            let field = |name: &str| {
                info.lines()
                    .find(|l| l.split(':').next().map(str::trim) == Some(name))
                    .and_then(|l| l.split(':').nth(1))
                    .map(str::trim)
            };
            let native = field("cpu family").and_then(|f| f.parse::<u32>().ok()) == Some(id.family)
                && field("model").and_then(|m| m.parse::<u32>().ok()) == Some(id.model);
            if let (true, Some(v)) = (native, field("vendor_id")) {
                assert_eq!(id.vendor_str(), v);
                assert_eq!(vendor() == Vendor::Amd, v == "AuthenticAMD", "{v}");
                assert_eq!(vendor() == Vendor::Intel, v == "GenuineIntel", "{v}");
            }
        }
        #[cfg(target_arch = "x86_64")]
        assert!(identity().is_some());
    }
}
