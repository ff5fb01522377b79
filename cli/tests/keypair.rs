//! `ssmail keygen` and `ssmail derive`, run as a user would.

use std::os::unix::fs::PermissionsExt as _;
use std::process::Output;

#[path = "support/run.rs"]
mod run;
use run::{hex, ssmail};

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim_end().to_owned()
}

#[test]
fn derive_reproduces_every_published_agreement_from_both_sides() {
    for v in ssmail_vectors::agreement_vectors() {
        let (na, nb) = (hex(&v.na), hex(&v.nb));
        for (own, own_pub, peer) in [(&v.ra, &v.ka, &v.kb), (&v.rb, &v.kb, &v.ka)] {
            let out = ssmail(&[
                "derive",
                "--private",
                &hex(own),
                "--peer",
                &hex(peer),
                "--na",
                &na,
                "--nb",
                &nb,
            ]);
            assert!(out.status.success(), "line {}: {out:?}", v.line);
            assert_eq!(
                stdout(&out),
                format!(
                    r#"{{"public": "{}", "shared_secret": "{}", "key_c2s": "{}", "key_s2c": "{}"}}"#,
                    hex(own_pub),
                    hex(&v.z),
                    hex(&v.c2s),
                    hex(&v.s2c)
                ),
                "line {}",
                v.line
            );
        }
    }
}

#[test]
fn keygen_writes_an_owner_only_file_and_derive_reads_it() {
    let dir = std::env::temp_dir().join(format!("ssmail-keygen-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let key = dir.join("key");
    let _ = std::fs::remove_file(&key);
    let key_s = key.to_str().expect("utf-8 path");

    let out = ssmail(&["keygen", "--out", key_s]);
    assert!(out.status.success(), "{out:?}");
    let public = stdout(&out);
    assert_eq!(public.len(), 192);
    assert!(
        public
            .bytes()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
    let meta = std::fs::metadata(&key).expect("key file");
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let private = std::fs::read_to_string(&key).expect("read key");
    assert_eq!(private.trim_end().len(), 192);

    // Not replaced without --force.
    let again = ssmail(&["keygen", "--out", key_s]);
    assert_eq!(again.status.code(), Some(2));
    assert_eq!(std::fs::read_to_string(&key).expect("read key"), private);
    // Replaced with it, still owner-only.
    let forced = ssmail(&["keygen", "--out", key_s, "--force"]);
    assert!(forced.status.success());
    assert_ne!(std::fs::read_to_string(&key).expect("read key"), private);
    assert_eq!(
        std::fs::metadata(&key).expect("key").permissions().mode() & 0o777,
        0o600
    );

    // derive with @FILE gives the public key keygen printed.
    let public = stdout(&forced);
    let out = ssmail(&[
        "derive",
        "--private",
        &format!("@{key_s}"),
        "--peer",
        &public,
        "--na",
        "00112233445566778899",
        "--nb",
        "99887766554433221100",
    ]);
    assert!(out.status.success(), "{out:?}");
    assert!(stdout(&out).starts_with(&format!(r#"{{"public": "{public}""#)));
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn keygen_without_a_file_prints_both_keys() {
    let out = ssmail(&["keygen"]);
    assert!(out.status.success());
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2);
    assert!(lines.iter().all(|l| l.len() == 192));
    let a = ssmail(&["keygen"]);
    assert_ne!(stdout(&a), text, "two key pairs must differ");
}

#[test]
fn bad_peers_and_nonces_exit_2_with_one_line_naming_them() {
    let v = &ssmail_vectors::agreement_vectors()[0];
    let (ra, kb) = (hex(&v.ra), hex(&v.kb));
    let p = hex(&ssmail_core::group::P.to_be_bytes());
    let p_minus_1 = format!("{}fe", &p[..190]);
    let cases: [(&str, &str, &str, &str); 6] = [
        (
            &kb[..190],
            "00112233445566778899",
            "00112233445566778899",
            "--peer",
        ),
        (
            &p_minus_1,
            "00112233445566778899",
            "00112233445566778899",
            "--peer",
        ),
        (&p, "00112233445566778899", "00112233445566778899", "--peer"),
        (&kb, "0011223344556677889", "00112233445566778899", "--na"),
        (&kb, "00112233445566778899", "0011223344556677889x", "--nb"),
        (
            "zz",
            "00112233445566778899",
            "00112233445566778899",
            "--peer",
        ),
    ];
    for (peer, na, nb, what) in cases {
        let out = ssmail(&[
            "derive",
            "--private",
            &ra,
            "--peer",
            peer,
            "--na",
            na,
            "--nb",
            nb,
        ]);
        assert_eq!(out.status.code(), Some(2), "{what}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with(&format!("ssmail: {what}")), "{err}");
    }
}
