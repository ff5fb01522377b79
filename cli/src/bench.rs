//! `ssmail bench` and `ssmail cache-sim`: the paper's CPU-time tables, measured here
//! through the library's own code paths, printed beside the paper's figures
//! (`../shared/notes/paper-figures.md`).

mod cache_sim;

pub use cache_sim::{Flood, flood_report as cache_flood};
mod dh;
mod session;
mod table3;
mod timing;

use ssmail_ciphers::Paths as _;
use std::fmt::Write as _;

use ssmail_bigint_x86::Backend;
use ssmail_core::DEFAULT_LIFETIME_SECS;
use ssmail_core::xcrypt::Version;

use crate::cpu::Cpu;
use crate::failure::Failure;
use crate::paths::Chosen;
use timing::{Plan, Sample};

/// What `ssmail bench` measured.
struct Report {
    plan: Plan,
    /// The CPU it ran on.
    cpu: Cpu,
    /// The implementation of each primitive that the rows below used.
    chosen: Chosen,
    /// With `--all-backends`: every runnable keystream path of arrsyfor, then of t32.
    paths: Option<[Vec<table3::PathRow>; 2]>,
    table3: [table3::Column; 2],
    dh: Vec<dh::Row>,
    cache: cache_sim::Outcome,
    /// The same, with peers that renew their keys too.
    cache_renewing: cache_sim::Outcome,
    /// Plaintext, t32 and arrsyfor sessions.
    session: [Sample; 3],
}

/// `ssmail bench [--quick] [--all-backends] [--json]`.
///
/// # Errors
/// When the system RNG fails or an in-memory session goes wrong.
pub fn bench(quick: bool, all_backends: bool, json: bool) -> Result<String, Failure> {
    let plan = if quick { Plan::QUICK } else { Plan::FULL };
    let chosen = Chosen::now();
    let table3 = table3::run(plan);
    let paths = all_backends.then(|| table3::paths(plan));
    let backends: Vec<Backend> = if all_backends {
        Backend::runnable().collect()
    } else {
        vec![chosen.dh]
    };
    let dh = backends.into_iter().map(|b| dh::run(plan, b)).collect();
    let trace = cache_sim::Trace::paper();
    let cache = cache_sim::replay(&trace, DEFAULT_LIFETIME_SECS, false)?;
    let cache_renewing = cache_sim::replay(&trace, DEFAULT_LIFETIME_SECS, true)?;
    let body = session::body();
    let mut caches = session::Caches::new();
    let mut sample = |v: Option<Version>| -> Result<Sample, Failure> {
        // The first run primes the caches (and checks the session works).
        session::run(v, &body, &mut caches)?;
        let mut failed = None;
        let s = timing::measure(plan, || {
            if let Err(e) = session::run(v, &body, &mut caches) {
                failed = Some(e);
            }
        });
        failed.map_or(Ok(s), Err)
    };
    let session = [
        sample(None)?,
        sample(Some(Version::T32V1_0))?,
        sample(Some(Version::ArrsyforV1_0))?,
    ];
    let r = Report {
        plan,
        cpu: Cpu::this(),
        chosen,
        paths,
        table3,
        dh,
        cache,
        cache_renewing,
        session,
    };
    Ok(if json { r.json() } else { r.text() })
}

/// `ssmail cache-sim --trace FILE [--lifetime SECONDS] [--json]`.
///
/// # Errors
/// An unreadable or malformed trace (naming the line), or a failing RNG.
pub fn cache_sim(trace: &std::path::Path, lifetime: u64, json: bool) -> Result<String, Failure> {
    let text = std::fs::read_to_string(trace)
        .map_err(|e| Failure::Io(format!("reading {}: {e}", trace.display())))?;
    let trace = cache_sim::Trace::parse(&text)?;
    let outcome = cache_sim::replay(&trace, lifetime, false)?;
    let dh = dh::run(Plan::QUICK, Backend::default_path());
    let amortized = amortized_us(&outcome, &dh);
    if json {
        return Ok(format!(
            r#"{{"cache": {}, "lifetime_s": {lifetime}, "peers": {}, "backend": "{}", "shared_secret_us": {:.3}}}"#,
            cache_json(&outcome, amortized),
            trace.names.len(),
            dh.backend.name(),
            dh.shared_secret.median
        ));
    }
    Ok(format!(
        "{} messages from {} peers, key lifetime {lifetime} s\n\
         Diffie-Hellman computations: {} ({:.1}% of messages saved one)\n\
         amortized Diffie-Hellman per message: {amortized:.1} µs (shared secret {:.1} µs on {})",
        outcome.messages,
        trace.names.len(),
        outcome.dh(),
        100.0 * outcome.saved(),
        dh.shared_secret.median,
        dh.backend.name()
    ))
}

fn amortized_us(o: &cache_sim::Outcome, dh: &dh::Row) -> f64 {
    o.dh() as f64 * dh.shared_secret.median / o.messages as f64
}

fn cache_json(o: &cache_sim::Outcome, amortized: f64) -> String {
    format!(
        r#"{{"messages": {}, "dh_computations": {}, "saved_fraction": {:.4}, "amortized_dh_us": {amortized:.3}}}"#,
        o.messages,
        o.dh(),
        o.saved()
    )
}

/// One row of Table 3 out of a column: the median and its range.
type RowOf = fn(&table3::Column) -> (f64, String);

fn range(s: &Sample) -> String {
    format!("[{:.2}–{:.2}]", s.min, s.max)
}

/// One implementation's figure among its primitive's, for the "fastest" verdict.
struct Figure {
    name: &'static str,
    default: bool,
    /// The fastest round of the row compared (µs per operation). The fastest round, not
    /// the median: on a shared machine the slow rounds measure the neighbours, and the
    /// paths are measured one after another, so medians can rank them by when they ran.
    us: f64,
}

/// How much slower than the fastest path the default may measure and still count as the
/// fastest: the rounds of one run spread by a few percent on a quiet machine.
const FASTEST_TOLERANCE: f64 = 0.03;

/// Whether the default figure is the fastest, within [`FASTEST_TOLERANCE`], and the
/// fastest one's name.
fn verdict(figures: &[Figure]) -> (bool, &'static str) {
    let fastest = figures.iter().min_by(|a, b| a.us.total_cmp(&b.us));
    let default = figures.iter().find(|f| f.default);
    match (fastest, default) {
        (Some(f), Some(d)) => (d.us <= f.us * (1.0 + FASTEST_TOLERANCE), f.name),
        // The default was not measured (it was forced to a path that is not runnable,
        // which `paths::force` refuses): nothing to compare.
        (Some(f), None) => (false, f.name),
        (None, _) => (true, ""),
    }
}

impl Report {
    /// The Diffie-Hellman row of the backend in use (the first row if it was not measured).
    fn dh_default(&self) -> &dh::Row {
        self.dh
            .iter()
            .find(|d| d.backend == self.chosen.dh)
            .unwrap_or(&self.dh[0])
    }

    /// Each primitive's figures with `--all-backends`: the encryption of 14,671 bytes for
    /// the cipher paths, the shared secret for the exponentiation backends.
    fn figures(&self) -> Option<[(&'static str, Vec<Figure>); 3]> {
        let [arrsyfor, t32] = self.paths.as_ref()?;
        let cipher = |rows: &[table3::PathRow]| {
            rows.iter()
                .map(|r| Figure {
                    name: r.name,
                    default: r.default,
                    us: r.encrypt.min,
                })
                .collect()
        };
        let dh = self
            .dh
            .iter()
            .map(|d| Figure {
                name: d.backend.name(),
                default: d.backend == self.chosen.dh,
                us: d.shared_secret.min,
            })
            .collect();
        Some([
            ("arrsyfor", cipher(arrsyfor)),
            ("t32", cipher(t32)),
            ("dh", dh),
        ])
    }

    fn noisy(&self) -> Vec<String> {
        let mut names = Vec::new();
        for c in &self.table3 {
            for (row, s) in [
                ("key generation", c.keygen),
                ("key setups", c.key_setups),
                ("encryption", c.encrypt),
            ] {
                if s.noisy() {
                    names.push(format!("{} {row}", c.cipher));
                }
            }
        }
        if let Some(paths) = &self.paths {
            for (cipher, rows) in ["arrsyfor", "t32"].iter().zip(paths) {
                for r in rows.iter().filter(|r| r.encrypt.noisy()) {
                    names.push(format!("{cipher} path {}", r.name));
                }
            }
        }
        for d in &self.dh {
            for (row, s) in [
                ("public key", d.public_key),
                ("shared secret", d.shared_secret),
            ] {
                if s.noisy() {
                    names.push(format!("{} {row}", d.backend.name()));
                }
            }
        }
        names
    }

    fn text(&self) -> String {
        let mut o = String::new();
        let _ = writeln!(
            o,
            "ssmail bench: CPU time per message (the paper's Table 3), median of {} rounds \
             [fastest–slowest], against the paper's Pentium Pro 233",
            self.plan.rounds
        );
        let _ = writeln!(
            o,
            "CPU: {}\nimplementations: {}",
            self.cpu.line(),
            self.chosen.line()
        );
        let _ = writeln!(
            o,
            "\n{:<22}{:>34}{:>34}",
            "", "arrsyfor (RC4)", "t32 (SOBER-t32)"
        );
        let _ = writeln!(
            o,
            "{:<22}{:>22}{:>9}{:>9}{:>22}{:>9}{:>9}",
            "", "ours µs", "paper", "×", "ours µs", "paper", "×"
        );
        let rows: [(&str, RowOf); 5] = [
            ("key generation", |c| (c.keygen.median, range(&c.keygen))),
            ("two key setups", |c| {
                (c.key_setups.median, range(&c.key_setups))
            }),
            ("encrypt 14,671 B", |c| {
                (c.encrypt.median, range(&c.encrypt))
            }),
            ("speed (MB/s)", |c| (c.mb_per_s(), String::new())),
            ("total", |c| (c.total(), String::new())),
        ];
        for (i, (name, get)) in rows.iter().enumerate() {
            let _ = write!(o, "{name:<22}");
            for c in &self.table3 {
                let (ours, spread) = get(c);
                let paper = table3::paper(c.cipher)[i];
                // Speed is better when higher; times when lower.
                let gain = if i == 3 { ours / paper } else { paper / ours };
                let _ = write!(o, "{:>9.2} {:>12}{paper:>9}{gain:>8.1}×", ours, spread);
            }
            let _ = writeln!(o);
        }
        for d in &self.dh {
            let ss = d.shared_secret.median;
            let _ = writeln!(
                o,
                "\nDiffie-Hellman, 768-bit Oakley group, backend {}:\n  \
                 public key 2^r:    {:>9.1} µs {}\n  \
                 shared secret K^r: {:>9.1} µs {}   paper: {} s on a Pentium Pro 233 ({:.0}× faster here), \
                 {} s on a Pentium 100 ({:.0}×)",
                d.backend.name(),
                d.public_key.median,
                range(&d.public_key),
                ss,
                range(&d.shared_secret),
                dh::PAPER_PPRO_S,
                dh::PAPER_PPRO_S * 1e6 / ss,
                dh::PAPER_P100_S,
                dh::PAPER_P100_S * 1e6 / ss,
            );
        }
        if let Some(figures) = self.figures() {
            let _ = writeln!(
                o,
                "\nEvery implementation this CPU runs (fastest round, µs: encrypt 14,671 B; \
                 DH shared secret):"
            );
            for (primitive, rows) in &figures {
                let (fastest, name) = verdict(rows);
                let _ = write!(o, "  {primitive:<9}");
                for f in rows {
                    let mark = if f.default { " (default)" } else { "" };
                    let _ = write!(o, "  {} {:.1}{mark}", f.name, f.us);
                }
                let _ = writeln!(
                    o,
                    "  -> {}",
                    if fastest {
                        "the default is the fastest".to_owned()
                    } else {
                        format!("the default is NOT the fastest: {name} is")
                    }
                );
            }
        }
        let c = &self.cache;
        let amortized = amortized_us(c, self.dh_default());
        let _ = writeln!(
            o,
            "\nCaching analysis: a synthetic trace shaped like the paper's (372.6 h, {} messages: \
             {} from one hub arriving steadily,\n{} from other machines seen once; key lifetime \
             2 h) replayed through the real key cache:\n  \
             Diffie-Hellman computations: {:>6}   paper: {}\n  \
             messages that needed none:   {:>5.1}%   paper: over 60% (807 of 1,322)\n  \
             amortized DH per message:    {:>6.1} µs   paper: {} s = {:.0} µs ({:.0}× faster here)",
            c.messages,
            cache_sim::PAPER_HUB,
            cache_sim::PAPER_OTHERS,
            c.dh(),
            cache_sim::PAPER_DH,
            100.0 * c.saved(),
            amortized,
            cache_sim::PAPER_AMORTIZED_S,
            cache_sim::PAPER_AMORTIZED_S * 1e6,
            cache_sim::PAPER_AMORTIZED_S * 1e6 / amortized,
        );
        let _ = writeln!(o, "{}", cache_sim::explain_paper(c, &self.cache_renewing));
        let [plain, t32, arrsyfor] = &self.session;
        let pct = |s: &Sample| 100.0 * (s.median - plain.median) / plain.median;
        let _ = writeln!(
            o,
            "\nWhole session: one 64 KiB message from EHLO to QUIT through the client and server \
             state machines, in memory, primed cache:\n  \
             plaintext {:.1} µs; t32 {:.1} µs (+{:.1}%); arrsyfor {:.1} µs (+{:.1}%)\n  \
             paper: under 5% of sendmail's running time for a 64 KB message, with its disk and \
             network I/O, which this in-memory run leaves out (so its percentage is an upper bound)",
            plain.median,
            t32.median,
            pct(t32),
            arrsyfor.median,
            pct(arrsyfor),
        );
        let noisy = self.noisy();
        if !noisy.is_empty() {
            let _ = writeln!(
                o,
                "\nwarning: the rounds spread by more than {:.0}% of the median for: {}. This \
                 machine is busy or shared; rerun for steadier figures.",
                timing::NOISY * 100.0,
                noisy.join(", ")
            );
        }
        o.trim_end().to_owned()
    }

    fn json(&self) -> String {
        let col = |c: &table3::Column| {
            format!(
                r#"{{"keygen_us": {:.4}, "key_setups_us": {:.4}, "encrypt_us": {:.3}, "mb_per_s": {:.2}, "total_us": {:.3}}}"#,
                c.keygen.median,
                c.key_setups.median,
                c.encrypt.median,
                c.mb_per_s(),
                c.total()
            )
        };
        let dh_row = |d: &dh::Row| {
            format!(
                r#"{{"backend": "{}", "public_key_us": {:.3}, "shared_secret_us": {:.3}}}"#,
                d.backend.name(),
                d.public_key.median,
                d.shared_secret.median
            )
        };
        let all: Vec<String> = self.dh.iter().map(dh_row).collect();
        let [plain, t32, arrsyfor] = &self.session;
        let mut figures = String::new();
        if let Some(f) = self.figures() {
            let mut per = serde_json::Map::new();
            let mut fastest = serde_json::Map::new();
            for (primitive, rows) in &f {
                let rows_json: Vec<serde_json::Value> = rows
                    .iter()
                    .map(|r| serde_json::json!({"name": r.name, "us": r.us, "default": r.default}))
                    .collect();
                per.insert((*primitive).to_owned(), rows_json.into());
                let (ok, name) = verdict(rows);
                fastest.insert(
                    (*primitive).to_owned(),
                    serde_json::json!({"fastest": name, "default_is_fastest": ok}),
                );
            }
            figures = format!(
                r#", "path_figures": {}, "fastest": {}"#,
                serde_json::Value::Object(per),
                serde_json::Value::Object(fastest)
            );
        }
        format!(
            r#"{{"cpu": {}, "paths": {}{figures}, "table3": {{"arrsyfor": {}, "t32": {}}}, "dh": {}, "dh_backends": [{}], "cache": {}, "session_64k": {{"plaintext_us": {:.3}, "t32_us": {:.3}, "arrsyfor_us": {:.3}}}, "noisy": [{}]}}"#,
            self.cpu.json(),
            self.chosen.json(),
            col(&self.table3[0]),
            col(&self.table3[1]),
            dh_row(self.dh_default()),
            all.join(", "),
            cache_json(&self.cache, amortized_us(&self.cache, self.dh_default())),
            plain.median,
            t32.median,
            arrsyfor.median,
            self.noisy()
                .iter()
                .map(|n| format!("\"{n}\""))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}
