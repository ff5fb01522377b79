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
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    // The portable path runs everywhere; the default is whichever runnable path is
    // fastest on this CPU, so only its shape is pinned here: exactly one per primitive,
    // runnable, and the one `paths` names.
    for primitive in ["arrsyfor", "t32", "dh"] {
        let rows = v[primitive].as_array().expect(primitive);
        assert!(
            rows.iter()
                .any(|r| r["name"] == "portable" && r["runnable"] == true),
            "{v}"
        );
        let defaults: Vec<_> = rows.iter().filter(|r| r["default"] == true).collect();
        assert_eq!(defaults.len(), 1, "{primitive}: {v}");
        assert_eq!(defaults[0]["runnable"], true, "{v}");
        assert_eq!(defaults[0]["name"], v["paths"][primitive], "{v}");
    }
    let out = ssmail(&["backends"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("cpu\t"), "{text}");
    for primitive in ["arrsyfor", "t32", "dh"] {
        assert!(
            text.lines()
                .any(|l| l.starts_with(&format!("{primitive}\tportable\trunnable"))),
            "{text}"
        );
        assert_eq!(
            text.lines()
                .filter(|l| l.starts_with(&format!("{primitive}\t"))
                    && l.ends_with("\trunnable\tdefault"))
                .count(),
            1,
            "{text}"
        );
    }
}
