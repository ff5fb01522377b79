//! The XCRYPT command and reply lines: round trips, every refusal, EHLO offers, and no
//! panic on any input.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use proptest::prelude::*;
use ssmail_core::xcrypt::{
    Command, CommandError, Offer, Reply, ReplyError, Version, offer_in_ehlo_line,
};
use ssmail_core::{PrivateKey, PublicKey};

fn key() -> PublicKey {
    let mut b = [0x11u8; 96];
    b[0] = 0x42;
    PrivateKey::from_be_bytes(&b).unwrap().public_key()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn commands_round_trip_and_fit_the_line_limit() {
    let start = Command::Start {
        version: Version::ArrsyforV1_0,
        key: key(),
        nonce: [7; 10],
    };
    let line = start.write();
    assert_eq!(line.as_bytes().len(), 235);
    assert!(line.as_bytes().starts_with(b"XCRYPT arrsyfor_1.0 "));
    assert!(line.as_bytes().ends_with(b" 07070707070707070707\r\n"));
    assert_eq!(Command::parse(line.as_bytes()), Some(Ok(start)));
    for c in [Command::Ok, Command::Fail] {
        assert_eq!(Command::parse(c.write().as_bytes()), Some(Ok(c)));
    }
    assert_eq!(Command::parse(b"xcrypt ok\r\n"), Some(Ok(Command::Ok)));
    assert_eq!(Command::parse(b"XCrypt Fail"), Some(Ok(Command::Fail)));
    let upper = format!(
        "XCRYPT T32_1.0 {} {}",
        hex(&key().to_be_bytes()).to_uppercase(),
        "ABCDEF0123456789ABCD"
    );
    assert!(matches!(
        Command::parse(upper.as_bytes()),
        Some(Ok(Command::Start {
            version: Version::T32V1_0,
            ..
        }))
    ));
}

#[test]
fn other_commands_are_not_ours() {
    for line in [
        &b"MAIL FROM:<a@b>\r\n"[..],
        b"EHLO x",
        b"XCRYPTX OK",
        b"XCRYP",
        b"",
    ] {
        assert_eq!(
            Command::parse(line),
            None,
            "{:?}",
            String::from_utf8_lossy(line)
        );
    }
}

#[test]
fn every_refusal_has_its_code() {
    let k = hex(&key().to_be_bytes());
    let p_minus_1 = format!("{}fe", &hex(&ssmail_core::group::P.to_be_bytes())[..190]);
    let cases = [
        ("XCRYPT".to_owned(), CommandError::Syntax),
        ("XCRYPT OK extra".to_owned(), CommandError::Syntax),
        (format!("XCRYPT t32_1.0 {k}"), CommandError::Syntax),
        (
            format!("XCRYPT t32_1.0 {k} 00112233445566778899 more"),
            CommandError::Syntax,
        ),
        (
            format!("XCRYPT t32_1.0 {} 00112233445566778899", &k[..191]),
            CommandError::BadKey,
        ),
        (
            format!("XCRYPT t32_1.0 {p_minus_1} 00112233445566778899"),
            CommandError::BadKey,
        ),
        (
            format!("XCRYPT t32_1.0 {k} 0011223344556677889"),
            CommandError::BadNonce,
        ),
        (
            format!("XCRYPT t32_1.0 {k} 0011223344556677889g"),
            CommandError::BadNonce,
        ),
        (
            format!("XCRYPT rc5_1.0 {k} 00112233445566778899"),
            CommandError::NoCommonVersion,
        ),
        (format!("XCRYPT {}", "x".repeat(600)), CommandError::TooLong),
    ];
    for (line, want) in cases {
        assert_eq!(Command::parse(line.as_bytes()), Some(Err(want)), "{line}");
    }
    assert_eq!(CommandError::NoCommonVersion.code(), 504);
    assert_eq!(CommandError::BadKey.code(), 501);
    assert_eq!(
        Reply::refusal(CommandError::NoCommonVersion),
        Reply::Refused { code: 504 }
    );
}

#[test]
fn replies_round_trip() {
    let all = [
        Reply::Accept {
            key: key(),
            nonce: [3; 10],
        },
        Reply::Ok,
        Reply::FailAck,
        Reply::Refused { code: 501 },
        Reply::Refused { code: 504 },
        Reply::Refused { code: 454 },
        Reply::BadSequence,
        Reply::Unknown { code: 500 },
        Reply::Unknown { code: 502 },
    ];
    for r in all {
        let line = r.write();
        assert!(line.as_bytes().ends_with(b"\r\n"));
        assert_eq!(Reply::parse(line.as_bytes()), Ok(r.clone()), "{line:?}");
    }
}

#[test]
fn bad_replies_are_reported_not_trusted() {
    let k = hex(&key().to_be_bytes());
    assert_eq!(
        Reply::parse(b"250-XCRYPT OK\r\n"),
        Err(ReplyError::Malformed)
    );
    assert_eq!(Reply::parse(b"25 XCRYPT OK"), Err(ReplyError::Malformed));
    assert_eq!(Reply::parse(b"250 OK"), Err(ReplyError::Malformed));
    assert_eq!(
        Reply::parse(b"250 XCRYPT 1234 00112233445566778899"),
        Err(ReplyError::BadKey)
    );
    assert_eq!(
        Reply::parse(format!("250 XCRYPT {k} 0011").as_bytes()),
        Err(ReplyError::BadNonce)
    );
    assert_eq!(
        Reply::parse(b"421 4.3.2 shutting down"),
        Err(ReplyError::Unexpected { code: 421 })
    );
    assert_eq!(
        Reply::parse(b"501 5.5.4 syntax"),
        Err(ReplyError::Unexpected { code: 501 })
    );
}

#[test]
fn offers_in_ehlo_replies() {
    let both = offer_in_ehlo_line(b"250-XCRYPT t32_1.0 arrsyfor_1.0\r\n").unwrap();
    assert_eq!(
        both.iter().collect::<Vec<_>>(),
        [Version::T32V1_0, Version::ArrsyforV1_0]
    );
    let one = offer_in_ehlo_line(b"250 xcrypt foo_2.0 ARRSYFOR_1.0 arrsyfor_1.0").unwrap();
    assert_eq!(one.iter().collect::<Vec<_>>(), [Version::ArrsyforV1_0]);
    assert!(
        offer_in_ehlo_line(b"250 XCRYPT rc5_9.9")
            .unwrap()
            .is_empty()
    );
    assert_eq!(offer_in_ehlo_line(b"250-PIPELINING\r\n"), None);
    assert_eq!(offer_in_ehlo_line(b"250-XCRYPTED t32_1.0"), None);
    assert_eq!(offer_in_ehlo_line(b"500 XCRYPT t32_1.0"), None);
    // The client takes the server's most preferred version it supports.
    assert_eq!(both.choose(&Version::ALL), Some(Version::T32V1_0));
    assert_eq!(
        both.choose(&[Version::ArrsyforV1_0]),
        Some(Version::ArrsyforV1_0)
    );
    assert_eq!(Offer::new(&[]).choose(&Version::ALL), None);
    let rev = Offer::new(&[
        Version::ArrsyforV1_0,
        Version::T32V1_0,
        Version::ArrsyforV1_0,
    ]);
    assert_eq!(rev.choose(&Version::ALL), Some(Version::ArrsyforV1_0));
    assert_eq!(rev.iter().count(), 2);
}

proptest! {
    #[test]
    fn no_line_makes_a_parser_panic(line in proptest::collection::vec(any::<u8>(), 0..700)) {
        let _ = Command::parse(&line);
        let _ = Reply::parse(&line);
        let _ = offer_in_ehlo_line(&line);
    }

    #[test]
    fn xcrypt_shaped_lines_never_panic(tail in "[ -~]{0,600}") {
        let line = format!("XCRYPT {tail}");
        let _ = Command::parse(line.as_bytes());
        let reply = format!("250 XCRYPT {tail}");
        let _ = Reply::parse(reply.as_bytes());
        let _ = offer_in_ehlo_line(reply.as_bytes());
    }
}
