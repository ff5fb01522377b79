//! Which implementation runs each primitive: the arrsyfor and t32 keystream paths and the
//! Diffie-Hellman exponentiation backend. Each library picks the fastest its CPU runs;
//! the command line can force one by name (`--t32-path`, `SSMAIL_T32_PATH`, ...), and
//! `ssmail backends` and `ssmail bench` say what was chosen.

use serde_json::{Value, json};
use ssmail_bigint_x86::Backend;
use ssmail_ciphers::Paths as _;
use ssmail_ciphers::{ArrsyforPath, T32Path};

use crate::args::PathArgs;
use crate::failure::Failure;

/// The implementation in use for each primitive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chosen {
    /// The arrsyfor (RC4) keystream path.
    pub arrsyfor: ArrsyforPath,
    /// The t32 (SOBER-t32) keystream path.
    pub t32: T32Path,
    /// The exponentiation backend.
    pub dh: Backend,
}

impl Chosen {
    /// What new ciphers and exponentiations use now (the defaults, or what was forced).
    pub fn now() -> Self {
        Self {
            arrsyfor: ArrsyforPath::default_path(),
            t32: T32Path::default_path(),
            dh: Backend::default_path(),
        }
    }

    /// `{"arrsyfor": ..., "t32": ..., "dh": ...}`, by name.
    pub fn json(&self) -> Value {
        json!({
            "arrsyfor": self.arrsyfor.name(),
            "t32": self.t32.name(),
            "dh": self.dh.name(),
        })
    }

    /// `arrsyfor x86_64-asm, t32 avx2, dh x86_64-adx`.
    pub fn line(&self) -> String {
        format!(
            "arrsyfor {}, t32 {}, dh {}",
            self.arrsyfor.name(),
            self.t32.name(),
            self.dh.name()
        )
    }
}

/// Applies the forcing options, before anything is keyed or computed.
///
/// # Errors
/// A name that is not compiled in, or not runnable on this CPU (a usage error that lists
/// what is).
pub fn force(args: &PathArgs) -> Result<(), Failure> {
    if let Some(name) = &args.arrsyfor_path {
        let p = pick(
            "arrsyfor path",
            name,
            ArrsyforPath::from_name(name).map(|p| (p, p.is_runnable())),
            ArrsyforPath::ALL
                .iter()
                .map(|p| (p.name(), p.is_runnable())),
        )?;
        ArrsyforPath::set_default(Some(p));
    }
    if let Some(name) = &args.t32_path {
        let p = pick(
            "t32 path",
            name,
            T32Path::from_name(name).map(|p| (p, p.is_runnable())),
            T32Path::ALL.iter().map(|p| (p.name(), p.is_runnable())),
        )?;
        T32Path::set_default(Some(p));
    }
    if let Some(name) = &args.dh_backend {
        Backend::set_default(Some(crate::modexp::backend(Some(name))?));
    }
    Ok(())
}

/// The path `found` (with whether it runs here) if it runs here; otherwise a usage error
/// naming what does.
fn pick<P>(
    what: &str,
    name: &str,
    found: Option<(P, bool)>,
    all: impl Iterator<Item = (&'static str, bool)>,
) -> Result<P, Failure> {
    let all: Vec<(&str, bool)> = all.collect();
    let runnable: Vec<&str> = all.iter().filter(|a| a.1).map(|a| a.0).collect();
    match found {
        Some((p, true)) => Ok(p),
        Some((_, false)) => Err(Failure::Usage(format!(
            "the {what} '{name}' cannot run on this CPU (runnable here: {})",
            runnable.join(", ")
        ))),
        None => Err(Failure::Usage(format!(
            "unknown {what} '{name}' (compiled in: {}; runnable here: {})",
            all.iter().map(|a| a.0).collect::<Vec<_>>().join(", "),
            runnable.join(", ")
        ))),
    }
}

/// One implementation, as `ssmail backends` lists it.
struct Listed {
    name: &'static str,
    runnable: bool,
    default: bool,
}

fn listed<P: Copy + PartialEq>(
    all: &[P],
    chosen: P,
    name: impl Fn(P) -> &'static str,
    runnable: impl Fn(P) -> bool,
) -> Vec<Listed> {
    all.iter()
        .map(|&p| Listed {
            name: name(p),
            runnable: runnable(p),
            default: p == chosen,
        })
        .collect()
}

/// `ssmail backends [--json]`: the CPU, then each primitive's implementations.
pub fn backends(json: bool) -> String {
    let cpu = crate::cpu::Cpu::this();
    let chosen = Chosen::now();
    let lists = [
        (
            "arrsyfor",
            listed(
                ArrsyforPath::ALL,
                chosen.arrsyfor,
                ArrsyforPath::name,
                ArrsyforPath::is_runnable,
            ),
        ),
        (
            "t32",
            listed(
                T32Path::ALL,
                chosen.t32,
                T32Path::name,
                T32Path::is_runnable,
            ),
        ),
        (
            "dh",
            listed(Backend::ALL, chosen.dh, Backend::name, Backend::is_runnable),
        ),
    ];
    if json {
        let mut o = serde_json::Map::new();
        o.insert("cpu".into(), cpu.json());
        o.insert("paths".into(), chosen.json());
        for (primitive, rows) in &lists {
            let rows: Vec<Value> = rows
                .iter()
                .map(|r| json!({"name": r.name, "runnable": r.runnable, "default": r.default}))
                .collect();
            o.insert((*primitive).to_owned(), Value::Array(rows));
        }
        return Value::Object(o).to_string();
    }
    let mut lines = vec![format!("cpu\t{}", cpu.line())];
    for (primitive, rows) in &lists {
        for r in rows {
            lines.push(format!(
                "{primitive}\t{}\t{}{}",
                r.name,
                if r.runnable {
                    "runnable"
                } else {
                    "not runnable on this CPU"
                },
                if r.default { "\tdefault" } else { "" }
            ));
        }
    }
    lines.join("\n")
}
