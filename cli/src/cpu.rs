//! The CPU this process runs on, as `ssmail bench` and `ssmail backends` name it: speed
//! figures mean little without it, since which implementation wins differs between cores.

use serde_json::{Value, json};

/// Identification of the running CPU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cpu {
    /// The CPUID vendor string (`GenuineIntel`, `AuthenticAMD`), or the architecture
    /// where there is no CPUID.
    pub vendor: String,
    /// The display family (base plus extended), as `lscpu`'s "CPU family".
    pub family: u32,
    /// The display model (extended model folded in), as `lscpu`'s "Model".
    pub model: u32,
    /// The brand string (`AMD EPYC 7763 64-Core Processor`), trimmed.
    pub brand: String,
    /// The features that decide the implementation paths, present or not.
    pub flags: Vec<(&'static str, bool)>,
}

impl Cpu {
    /// The CPU this process runs on.
    pub fn this() -> Self {
        detect()
    }

    /// One line: `AuthenticAMD family 25 model 1 "AMD EPYC" (adx bmi2 avx2; no avx512f ...)`.
    pub fn line(&self) -> String {
        let has: Vec<&str> = self.flags.iter().filter(|f| f.1).map(|f| f.0).collect();
        let lacks: Vec<&str> = self.flags.iter().filter(|f| !f.1).map(|f| f.0).collect();
        let mut features = has.join(" ");
        if !lacks.is_empty() {
            if !features.is_empty() {
                features.push_str("; ");
            }
            features.push_str("no ");
            features.push_str(&lacks.join(" "));
        }
        format!(
            "{} family {} model {} \"{}\" ({features})",
            self.vendor, self.family, self.model, self.brand
        )
    }

    /// As a JSON object: vendor, family, model, brand and each flag.
    pub fn json(&self) -> Value {
        let flags: serde_json::Map<String, Value> = self
            .flags
            .iter()
            .map(|&(name, on)| (name.to_owned(), Value::Bool(on)))
            .collect();
        json!({
            "vendor": self.vendor,
            "family": self.family,
            "model": self.model,
            "brand": self.brand,
            "flags": flags,
        })
    }
}

#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
fn detect() -> Cpu {
    let id = raw_cpuid::CpuId::new();
    let vendor = id
        .get_vendor_info()
        .map_or_else(|| "unknown".to_owned(), |v| v.as_str().to_owned());
    let (family, model) = id.get_feature_info().map_or((0, 0), |f| {
        // The display family adds the extended family only to base family 15, and the
        // display model folds in the extended model for families 6 and 15 (Intel's and
        // AMD's manuals agree on this).
        let base = u32::from(f.base_family_id());
        let family = if base == 15 {
            base + u32::from(f.extended_family_id())
        } else {
            base
        };
        let model = if base == 6 || base == 15 {
            (u32::from(f.extended_model_id()) << 4) | u32::from(f.base_model_id())
        } else {
            u32::from(f.base_model_id())
        };
        (family, model)
    });
    let brand = id
        .get_processor_brand_string()
        .map_or_else(String::new, |b| b.as_str().trim().to_owned());
    Cpu {
        vendor,
        family,
        model,
        brand,
        flags: features(),
    }
}

#[cfg(target_arch = "x86_64")]
fn features() -> Vec<(&'static str, bool)> {
    vec![
        (
            "avx512ifma",
            std::arch::is_x86_feature_detected!("avx512ifma"),
        ),
        ("avx512f", std::arch::is_x86_feature_detected!("avx512f")),
        ("adx", std::arch::is_x86_feature_detected!("adx")),
        ("bmi2", std::arch::is_x86_feature_detected!("bmi2")),
        ("avx2", std::arch::is_x86_feature_detected!("avx2")),
    ]
}

#[cfg(target_arch = "x86")]
fn features() -> Vec<(&'static str, bool)> {
    vec![
        ("sse2", std::arch::is_x86_feature_detected!("sse2")),
        ("avx2", std::arch::is_x86_feature_detected!("avx2")),
    ]
}

#[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
fn detect() -> Cpu {
    Cpu {
        vendor: std::env::consts::ARCH.to_owned(),
        family: 0,
        model: 0,
        brand: String::new(),
        flags: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_this_cpu_as_lscpu_does() {
        let cpu = Cpu::this();
        assert!(!cpu.vendor.is_empty());
        // Where /proc/cpuinfo exists (Linux), its first "cpu family" and "model" lines
        // are the kernel's reading of the same CPUID fields.
        if let Ok(info) = std::fs::read_to_string("/proc/cpuinfo") {
            let field = |name: &str| {
                info.lines()
                    .find(|l| l.split(':').next().map(str::trim) == Some(name))
                    .and_then(|l| l.split(':').nth(1))
                    .and_then(|v| v.trim().parse::<u32>().ok())
            };
            if let (Some(family), Some(model)) = (field("cpu family"), field("model")) {
                assert_eq!((cpu.family, cpu.model), (family, model));
            }
        }
        let line = cpu.line();
        assert!(line.contains(&cpu.vendor), "{line}");
        let j = cpu.json();
        assert_eq!(j["family"], cpu.family);
        assert_eq!(
            j["flags"].as_object().map(|m| m.len()),
            Some(cpu.flags.len())
        );
    }
}
