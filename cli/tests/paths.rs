//! The implementation paths as a user sees them: named with the CPU, forced by flag or
//! environment, refused when unknown or not runnable, and the same bytes whichever runs.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

#[path = "support/run.rs"]
mod run;

use std::process::{Command, Output};

use run::{piped, ssmail};
use serde_json::Value;

fn json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `ssmail backends --json` with extra environment.
fn backends_with_env(env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_ssmail"));
    c.args(["backends", "--json"]);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

/// The runnable paths of `primitive`, by name.
fn runnable(v: &Value, primitive: &str) -> Vec<String> {
    v[primitive]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["runnable"] == true)
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_cpu_is_named() {
    let v = json(&ssmail(&["backends", "--json"]));
    let cpu = &v["cpu"];
    assert!(!cpu["vendor"].as_str().unwrap().is_empty(), "{v}");
    assert!(cpu["family"].is_u64() && cpu["model"].is_u64(), "{v}");
    assert!(cpu["brand"].is_string(), "{v}");
    #[cfg(target_arch = "x86_64")]
    for flag in ["avx512ifma", "adx", "bmi2", "avx2"] {
        assert!(cpu["flags"][flag].is_boolean(), "{flag}: {v}");
    }
}

#[test]
fn every_runnable_path_can_be_forced_by_flag_and_by_environment() {
    let v = json(&ssmail(&["backends", "--json"]));
    for (primitive, flag, var) in [
        ("arrsyfor", "--arrsyfor-path", "SSMAIL_ARRSYFOR_PATH"),
        ("t32", "--t32-path", "SSMAIL_T32_PATH"),
        ("dh", "--dh-backend", "SSMAIL_DH_BACKEND"),
    ] {
        let names = runnable(&v, primitive);
        assert!(names.iter().any(|n| n == "portable"), "{v}");
        for name in &names {
            let forced = json(&ssmail(&["backends", "--json", flag, name]));
            assert_eq!(forced["paths"][primitive], name.as_str(), "{flag} {name}");
            let rows = forced[primitive].as_array().unwrap();
            let defaults: Vec<_> = rows.iter().filter(|r| r["default"] == true).collect();
            assert_eq!(defaults.len(), 1);
            assert_eq!(defaults[0]["name"], name.as_str());
            let by_env = json(&backends_with_env(&[(var, name)]));
            assert_eq!(by_env["paths"][primitive], name.as_str(), "{var}={name}");
        }
    }
}

#[test]
fn unknown_and_unrunnable_paths_are_usage_errors() {
    for args in [
        ["backends", "--t32-path", "nonesuch"],
        ["backends", "--arrsyfor-path", "nonesuch"],
        ["backends", "--dh-backend", "nonesuch"],
    ] {
        let out = ssmail(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.starts_with("ssmail: "), "{err}");
        assert!(
            err.contains("nonesuch") && err.contains("portable"),
            "{err}"
        );
        assert!(out.stdout.is_empty());
    }
    let out = backends_with_env(&[("SSMAIL_T32_PATH", "nonesuch")]);
    assert_eq!(out.status.code(), Some(2));
    // A path compiled in but not runnable here is refused, not run into a SIGILL.
    let v = json(&ssmail(&["backends", "--json"]));
    for (primitive, flag) in [
        ("arrsyfor", "--arrsyfor-path"),
        ("t32", "--t32-path"),
        ("dh", "--dh-backend"),
    ] {
        for row in v[primitive].as_array().unwrap() {
            if row["runnable"] == false {
                let name = row["name"].as_str().unwrap();
                let out = ssmail(&["backends", flag, name]);
                assert_eq!(out.status.code(), Some(2), "{flag} {name}");
                let err = String::from_utf8_lossy(&out.stderr);
                assert!(err.contains("cannot run on this CPU"), "{err}");
            }
        }
    }
}

#[test]
fn every_cipher_path_gives_the_same_bytes() {
    let v = json(&ssmail(&["backends", "--json"]));
    let input: Vec<u8> = (0..70_001u32).map(|i| (i * 7 + (i >> 8)) as u8).collect();
    for (cipher, flag) in [("arrsyfor", "--arrsyfor-path"), ("t32", "--t32-path")] {
        let mut outputs = Vec::new();
        for name in runnable(&v, cipher) {
            let args = [
                "encrypt",
                "--raw",
                "--cipher",
                cipher,
                "--key-hex",
                "00112233445566778899",
                flag,
                &name,
            ];
            let out = piped(env!("CARGO_BIN_EXE_ssmail"), &args, &input);
            assert!(out.status.success(), "{args:?}");
            assert_eq!(out.stdout.len(), input.len());
            outputs.push((name, out.stdout));
        }
        for (name, o) in &outputs[1..] {
            assert!(
                *o == outputs[0].1,
                "{cipher}: {name} differs from {}",
                outputs[0].0
            );
        }
    }
}

#[test]
fn bench_all_backends_shows_each_path_and_the_default() {
    let v = json(&ssmail(&["bench", "--quick", "--all-backends", "--json"]));
    let backends = json(&ssmail(&["backends", "--json"]));
    // The exponentiation's path comes from a table: the same in every process. Each
    // process picks the ciphers' paths by its own trial, and two processes may settle
    // differently where two paths run within noise of each other (this test runs a
    // debug build, beside other tests): each must be a path that runs here.
    assert_eq!(v["paths"]["dh"], backends["paths"]["dh"]);
    for primitive in ["arrsyfor", "t32"] {
        let path = v["paths"][primitive].as_str().unwrap();
        assert!(
            runnable(&backends, primitive).iter().any(|n| n == path),
            "{primitive}: {path}"
        );
    }
    assert_eq!(v["cpu"], backends["cpu"]);
    for primitive in ["arrsyfor", "t32", "dh"] {
        let rows = v["path_figures"][primitive].as_array().unwrap();
        let names: Vec<&str> = rows.iter().map(|r| r["name"].as_str().unwrap()).collect();
        assert_eq!(names, runnable(&backends, primitive), "{primitive}");
        for r in rows {
            assert!(r["us"].as_f64().unwrap() > 0.0, "{r}");
            assert_eq!(r["default"] == true, r["name"] == v["paths"][primitive]);
        }
        let fastest = &v["fastest"][primitive];
        assert!(names.contains(&fastest["fastest"].as_str().unwrap()));
        assert!(fastest["default_is_fastest"].is_boolean());
    }
}
