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

fn detect() -> Cpu {
    let Some(id) = ssmail_cpu::identity() else {
        return Cpu {
            vendor: std::env::consts::ARCH.to_owned(),
            family: 0,
            model: 0,
            brand: String::new(),
            flags: features(),
        };
    };
    Cpu {
        vendor: id.vendor_str().to_owned(),
        family: id.family,
        model: id.model,
        brand: id.brand_str().to_owned(),
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
fn features() -> Vec<(&'static str, bool)> {
    Vec::new()
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
            let vendor = info
                .lines()
                .find(|l| l.starts_with("vendor_id"))
                .and_then(|l| l.split(':').nth(1))
                .map(str::trim);
            if let Some(vendor) = vendor {
                assert_eq!(cpu.vendor, vendor);
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
