//! `ssmail modexp` and `ssmail backends`, run as a user would.

#[path = "support/run.rs"]
mod run;
use run::{hex, ssmail};

#[test]
fn published_modexp_vectors_through_the_command_line() {
    let vectors = ssmail_vectors::modexp_vectors();
    assert_eq!(vectors.len(), 24);
    for v in vectors {
        let out = ssmail(&["modexp", "--base", &hex(&v.base), "--exp", &hex(&v.exp)]);
        assert!(out.status.success(), "line {}: {out:?}", v.line);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim_end(),
            hex(&v.result),
            "line {}",
            v.line
        );
    }
}

#[test]
fn short_inputs_are_padded_and_a_base_above_p_is_reduced() {
    let out = ssmail(&[
        "modexp",
        "--base",
        "2",
        "--exp",
        "A",
        "--backend",
        "portable",
    ]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim_end(),
        format!("{}0400", "0".repeat(188))
    );
    // p + 3 reduces to 3, and 3^2 = 9.
    let p_plus_3 = "ffffffffffffffffc90fdaa22168c234c4c6628b80dc1cd129024e088a67cc74020bbea63b139b22514a08798e3404ddef9519b3cd3a431b302b0a6df25f14374fe1356d6d51c245e485b576625e7ec6f44c42e9a63a36210000000000000002";
    let out = ssmail(&["modexp", "--base", p_plus_3, "--exp", "2"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim_end(),
        format!("{}09", "0".repeat(190))
    );
}

#[test]
fn bad_inputs_exit_2_with_one_line() {
    let long = "1".repeat(193);
    for args in [
        vec!["modexp", "--base", "xyz", "--exp", "1"],
        vec!["modexp", "--base", "2", "--exp", ""],
        vec!["modexp", "--base", &long, "--exp", "1"],
        vec![
            "modexp",
            "--base",
            "2",
            "--exp",
            "1",
            "--backend",
            "nonesuch",
        ],
    ] {
        let out = ssmail(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("ssmail: "), "{args:?}: {err}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn backends_lists_a_default_that_runs() {
    let out = ssmail(&["backends", "--json"]);
    assert!(out.status.success());
    let json = String::from_utf8_lossy(&out.stdout);
    assert!(json.trim_start().starts_with('[') && json.trim_end().ends_with(']'));
    // The portable backend runs everywhere; the default is whichever runnable backend is
    // fastest on this CPU, so only its shape is pinned here: exactly one, and runnable.
    assert!(json.contains(r#"{"name": "portable", "runnable": true, "default": "#));
    assert_eq!(json.matches(r#""default": true"#).count(), 1, "{json}");
    assert_eq!(
        json.matches(r#""runnable": true, "default": true"#).count(),
        1,
        "{json}"
    );
    let out = ssmail(&["backends"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines().any(|l| l.starts_with("portable\trunnable")),
        "{text}"
    );
    assert_eq!(
        text.lines()
            .filter(|l| l.ends_with("\trunnable\tdefault"))
            .count(),
        1,
        "{text}"
    );
}
