//! Client against server in memory: a whole SMTP session through both state machines,
//! for both ciphers, with every hop cut at every point and in random chunks.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

#[path = "support/session.rs"]
mod session;
#[path = "support/test_rng.rs"]
mod test_rng;

use proptest::prelude::*;
use session::{Chunks, Script, Session};
use ssmail_core::xcrypt::{Event, Version};
use ssmail_testkit::find;

const BODY: &[u8] = b"Subject: hello\r\n\r\nA line.\r\n..a line that starts with a dot\r\n\r\n";
/// `BODY` as the MTA stores it: dot-unstuffed.
const DELIVERED: &[u8] = b"Subject: hello\r\n\r\nA line.\r\n.a line that starts with a dot\r\n\r\n";

fn session(version: Version, chunks: Chunks) -> Session {
    let mut s = Session::new(&[version], &Version::ALL, Script::one_message(BODY), chunks);
    s.run();
    s
}

/// The session went through encrypted and delivered the mail intact.
fn assert_encrypted_delivery(s: &Session, version: Version) {
    assert_eq!(s.error, None);
    assert!(s.app.done(), "replies: {:?}", s.app.replies);
    assert!(s.app.unexpected.is_empty(), "{:?}", s.app.unexpected);
    assert_eq!(s.mta.bodies(), vec![DELIVERED.to_vec()]);
    assert_eq!(
        s.mta.commands,
        [
            "EHLO client.test",
            "MAIL FROM:<alice@client.test>",
            "RCPT TO:<bob@mx.test>",
            "DATA",
            "QUIT"
        ]
    );
    assert!(s.client_out.events.contains(&Event::EncryptionOn(version)));
    assert!(s.server_out.events.contains(&Event::EncryptionOn(version)));
    assert_eq!(s.client.version(), Some(version));
    assert_eq!(s.server.version(), Some(version));
    // The local client never sees XCRYPT; the wire never shows the mail.
    assert!(s.app.replies.iter().all(|r| !r.contains("XCRYPT")));
    for secret in [&b"alice@"[..], b"bob@", b"Subject", b"QUIT", b"queued"] {
        assert!(find(&s.wire_c2s, secret).is_none());
        assert!(find(&s.wire_s2c, secret).is_none());
    }
    // The switch points are where docs/xcrypt.md §4.1 puts them: the wire up to them is plaintext.
    let ok = find(&s.wire_c2s, b"\r\nXCRYPT OK\r\n").unwrap() + 13;
    assert!(s.wire_c2s[..ok].starts_with(b"EHLO client.test\r\nXCRYPT "));
    let ack = find(&s.wire_s2c, b"\r\n250 XCRYPT OK\r\n").unwrap() + 17;
    assert!(s.wire_s2c[..ack].starts_with(b"220 mx.test ESMTP\r\n250-mx.test greets you\r\n"));
    assert!(ok < s.wire_c2s.len() && ack < s.wire_s2c.len());
}

#[test]
fn both_ciphers_whole_chunks() {
    for v in Version::ALL {
        let s = session(v, Chunks::whole());
        assert_encrypted_delivery(&s, v);
        // The server offered its versions in its EHLO reply, and the client saw them.
        assert!(matches!(s.client_out.events[0], Event::Offered(_)));
    }
}

#[test]
fn every_byte_on_its_own() {
    // Chunks of one byte put a cut at every possible point of every hop.
    for v in Version::ALL {
        assert_encrypted_delivery(&session(v, Chunks::new(vec![1])), v);
    }
}

#[test]
fn every_single_cut_point() {
    // One cut at position k of every delivery, for every k up to the longest line.
    for k in 1..200 {
        let s = session(Version::T32V1_0, Chunks::new(vec![k, usize::MAX]));
        assert_encrypted_delivery(&s, Version::T32V1_0);
    }
}

#[test]
fn server_preference_wins() {
    // The client takes the server's first choice among the versions it supports.
    let mut s = Session::new(
        &Version::ALL,
        &[Version::ArrsyforV1_0, Version::T32V1_0],
        Script::one_message(BODY),
        Chunks::whole(),
    );
    s.run();
    assert_encrypted_delivery(&s, Version::ArrsyforV1_0);
}

#[test]
fn the_ehlo_reply_reaches_the_local_client_without_xcrypt() {
    let s = session(Version::T32V1_0, Chunks::whole());
    assert_eq!(
        s.app.replies[1],
        "250-mx.test greets you\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 10240000\r\n"
    );
    // And the server's offer was on the wire.
    assert!(find(&s.wire_s2c, b"250 XCRYPT t32_1.0 arrsyfor_1.0\r\n").is_some());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn random_chunks(
        sizes in proptest::collection::vec(1usize..80, 1..12),
        arrsyfor in any::<bool>(),
    ) {
        let v = if arrsyfor { Version::ArrsyforV1_0 } else { Version::T32V1_0 };
        assert_encrypted_delivery(&session(v, Chunks::new(sizes)), v);
    }
}

/// `quit_sent` is about command lines only: a body line reading `QUIT` (which a line
/// scan over the raw stream would take for one) leaves it false until the real `QUIT`,
/// on both machines, whether the session is encrypted or not, and whatever the cuts.
#[test]
fn quit_sent_sees_the_quit_command_not_a_body_line() {
    let body: &[u8] = b"Subject: quitting\r\n\r\nQUIT\r\nquit\r\nQUIT now\r\n";
    for sizes in [vec![usize::MAX], vec![1], vec![3, 7]] {
        for offer in [&[Version::T32V1_0][..], &[]] {
            let steps = vec![
                (b"EHLO client.test\r\n".to_vec(), 250),
                (b"MAIL FROM:<alice@client.test>\r\n".to_vec(), 250),
                (b"RCPT TO:<bob@mx.test>\r\n".to_vec(), 250),
                (b"DATA\r\n".to_vec(), 354),
                ([body, b".\r\n"].concat(), 250),
                (b"NOOP\r\n".to_vec(), 250),
            ];
            let mut s = Session::new(
                &Version::ALL,
                offer,
                Script::new(steps),
                Chunks::new(sizes.clone()),
            );
            s.run();
            assert_eq!(s.error, None);
            assert!(s.app.done(), "replies: {:?}", s.app.replies);
            assert_eq!(s.mta.bodies(), vec![body.to_vec()]);
            assert!(!s.client.quit_sent() && !s.server.quit_sent());
            let mut s2 = Session::new(
                &Version::ALL,
                offer,
                Script::new(vec![
                    (b"EHLO client.test\r\n".to_vec(), 250),
                    (b"quit\r\n".to_vec(), 221),
                ]),
                Chunks::new(sizes.clone()),
            );
            s2.run();
            assert!(s2.app.done(), "replies: {:?}", s2.app.replies);
            assert!(s2.client.quit_sent() && s2.server.quit_sent());
        }
    }
}
