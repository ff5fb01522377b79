//! `ssmail bench` and `ssmail cache-sim` as a user runs them.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

#[path = "support/run.rs"]
mod run;

use run::ssmail;
use serde_json::Value;

fn json(out: &std::process::Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn positive(v: &Value) -> f64 {
    let x = v.as_f64().unwrap_or(-1.0);
    assert!(x > 0.0, "{v}");
    x
}

#[test]
fn bench_json_has_every_row() {
    let v = json(&ssmail(&["bench", "--quick", "--json"]));
    for cipher in ["arrsyfor", "t32"] {
        let c = &v["table3"][cipher];
        let sum = positive(&c["keygen_us"]) + positive(&c["key_setups_us"]);
        let enc = positive(&c["encrypt_us"]);
        let total = positive(&c["total_us"]);
        assert!((sum + enc - total).abs() < 1e-2 * total, "{c}");
        assert!((positive(&c["mb_per_s"]) - 14_671.0 / enc).abs() < 0.01 * 14_671.0 / enc);
    }
    assert_eq!(v["dh"]["backend"], v["dh_backends"][0]["backend"]);
    positive(&v["dh"]["public_key_us"]);
    let ss = positive(&v["dh"]["shared_secret_us"]);
    let cache = &v["cache"];
    assert_eq!(cache["messages"], 1322);
    let dh = cache["dh_computations"].as_u64().unwrap();
    // 328 one-off peers always miss; the hub misses once per renewal of our key pair,
    // which can be neither more than one per 2 hours of the trace nor fewer than one per
    // 2 h 22.5 min (renewal at the first hub message 2 h after the last): 372.6 h over
    // 2.375 h is 156.9.
    assert!((328 + 157..=328 + 187).contains(&dh), "{dh}");
    let saved = cache["saved_fraction"].as_f64().unwrap();
    assert!((saved - (1.0 - dh as f64 / 1322.0)).abs() < 1e-3);
    let amortized = positive(&cache["amortized_dh_us"]);
    assert!((amortized - dh as f64 * ss / 1322.0).abs() < 1e-2 * amortized);
    for k in ["plaintext_us", "t32_us", "arrsyfor_us"] {
        positive(&v["session_64k"][k]);
    }
}

#[test]
fn bench_text_prints_ours_beside_the_papers() {
    let out = ssmail(&["bench", "--quick", "--all-backends"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "key generation",
        "two key setups",
        "encrypt 14,671 B",
        "speed (MB/s)",
        "total",
        "22.12",
        "127.6",
        "6.06",
        "1640",
        "1213",
        "0.3387 s",
        "0.5 s",
        "paper: 515",
        "0.1317 s",
        "the paper's 515 = 187",
        "Whole session",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
    // --all-backends: a Diffie-Hellman block for every runnable backend.
    let backends = json(&ssmail(&["backends", "--json"]));
    let runnable = backends["dh"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["runnable"] == true)
        .count();
    assert_eq!(text.matches("Diffie-Hellman, 768-bit").count(), runnable);
}

fn trace_file(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ssmail-cache-sim-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn cache_sim_counts_a_small_trace_by_hand() {
    // A hub every 1000 s for 10 messages with a 3600 s lifetime: our key pair is made at
    // 0, renewed at 4000 and 8000, so the hub misses 3 times; two one-off peers miss once.
    let mut text = String::from("time,peer\n# a comment\n\n");
    for i in 0..10 {
        text.push_str(&format!("{},hub\n", i * 1000));
        if i == 2 {
            text.push_str("2500.5,alpha.example\n");
        }
    }
    text.push_str("9500,beta.example\n");
    let path = trace_file("small.csv", &text);
    let p = path.to_str().unwrap();
    let v = json(&ssmail(&[
        "cache-sim",
        "--trace",
        p,
        "--lifetime",
        "3600",
        "--json",
    ]));
    assert_eq!(v["cache"]["messages"], 12);
    assert_eq!(v["cache"]["dh_computations"], 5);
    assert_eq!(v["peers"], 3);
    // A longer lifetime: one key pair for the whole trace.
    let v = json(&ssmail(&[
        "cache-sim",
        "--trace",
        p,
        "--lifetime",
        "100000",
        "--json",
    ]));
    assert_eq!(v["cache"]["dh_computations"], 3);
    let out = ssmail(&["cache-sim", "--trace", p, "--lifetime", "3600"]);
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .contains("Diffie-Hellman computations: 5")
    );
}

#[test]
fn cache_sim_names_the_bad_line() {
    for (text, want) in [
        ("0,a\n5,b\nnonsense\n", "trace line 3"),
        ("0,a\nx,b\n", "trace line 2: the time is not a number"),
        ("10,a\n5,b\n", "trace line 2: the time goes backwards"),
        ("0,a\n1,\n", "trace line 2"),
        ("-1,a\n", "trace line 1"),
        ("# only a comment\n", "no arrivals"),
    ] {
        let path = trace_file("bad.csv", text);
        let out = ssmail(&["cache-sim", "--trace", path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{text:?}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(
            err.contains(want) && err.lines().count() == 1,
            "{text:?}: {err}"
        );
    }
    let out = ssmail(&["cache-sim", "--trace", "/nonexistent/trace.csv"]);
    assert_eq!(out.status.code(), Some(1));
}
