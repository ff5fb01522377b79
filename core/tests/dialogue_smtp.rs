//! The state machines inside real SMTP use: pipelined groups, BDAT chunks, a refused
//! DATA, several messages, EHLO again after the switch, STARTTLS, keys from the cache;
//! and no panic on any input.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

#[path = "support/session.rs"]
mod session;
#[path = "support/test_rng.rs"]
mod test_rng;

use proptest::prelude::*;
use session::{Chunks, Collect, Script, Session};
use ssmail_core::xcrypt::{Client, Event, Server, StaticKeys, Version};
use ssmail_core::{KeyCache, KeyPair, PrivateKey};
use test_rng::TestRng;

fn encrypted(s: &Session) -> bool {
    s.error.is_none()
        && s.app.done()
        && s.app.unexpected.is_empty()
        && s.client.version().is_some()
        && s.server.version().is_some()
}

#[test]
fn a_pipelined_group_after_the_switch() {
    let app = Script::groups(vec![
        (b"EHLO c.test\r\n".to_vec(), vec![250]),
        (
            b"MAIL FROM:<a@c.test>\r\nRCPT TO:<b@mx.test>\r\nRCPT TO:<c@mx.test>\r\nDATA\r\n"
                .to_vec(),
            vec![250, 250, 250, 354],
        ),
        (b"one\r\n.\r\nQUIT\r\n".to_vec(), vec![250, 221]),
    ]);
    for sizes in [vec![usize::MAX], vec![1], vec![5, 11, 3]] {
        let mut s = Session::new(
            &Version::ALL,
            &Version::ALL,
            app.clone(),
            Chunks::new(sizes),
        );
        s.run();
        assert!(encrypted(&s), "{:?} {:?}", s.app.replies, s.error);
        assert_eq!(s.mta.bodies(), vec![b"one\r\n".to_vec()]);
        assert_eq!(s.mta.commands.len(), 6);
    }
}

#[test]
fn bdat_chunks_pass_through_whatever_they_hold() {
    // A chunk holding CRLF.CRLF and an XCRYPT line is mail, not protocol.
    let chunk1 = b"XCRYPT OK\r\n.\r\n";
    let app = Script::groups(vec![
        (b"EHLO c.test\r\n".to_vec(), vec![250]),
        (
            b"MAIL FROM:<a@c>\r\nRCPT TO:<b@mx>\r\n".to_vec(),
            vec![250, 250],
        ),
        (
            [&b"BDAT 14\r\n"[..], chunk1, b"BDAT 3 LAST\r\nend"].concat(),
            vec![250, 250],
        ),
        (b"QUIT\r\n".to_vec(), vec![221]),
    ]);
    let mut s = Session::new(&Version::ALL, &Version::ALL, app, Chunks::new(vec![4]));
    s.run();
    assert!(encrypted(&s), "{:?} {:?}", s.app.replies, s.error);
    assert_eq!(s.mta.bodies(), vec![b"XCRYPT OK\r\n.\r\nend".to_vec()]);
}

#[test]
fn a_refused_data_and_two_messages_and_ehlo_again() {
    let app = Script::new(vec![
        (b"EHLO c.test\r\n".to_vec(), 250),
        (b"MAIL FROM:<a@c>\r\n".to_vec(), 250),
        (b"DATA\r\n".to_vec(), 554),
        (b"RSET\r\n".to_vec(), 250),
        (b"EHLO c.test\r\n".to_vec(), 250),
        (b"MAIL FROM:<a@c>\r\n".to_vec(), 250),
        (b"RCPT TO:<b@mx>\r\n".to_vec(), 250),
        (b"DATA\r\n".to_vec(), 554),
        (b"QUIT\r\n".to_vec(), 221),
    ]);
    let mut s = Session::new(&Version::ALL, &Version::ALL, app, Chunks::new(vec![9]));
    s.mta.style.refuse_data = true;
    s.run();
    assert!(encrypted(&s), "{:?} {:?}", s.app.replies, s.error);
    // One exchange only; the second EHLO reply offers nothing and is passed on whole.
    let ons = s
        .server_out
        .events
        .iter()
        .filter(|e| matches!(e, Event::EncryptionOn(_)));
    assert_eq!(ons.count(), 1);
    assert_eq!(s.app.replies[5], s.app.replies[1]);
}

#[test]
fn keys_from_the_caches_miss_then_hit() {
    let body = b"cached\r\n";
    let mut caches = (KeyCache::<4>::new(7200), KeyCache::<4>::new(7200));
    // Each round a new session (both machines new), the caches carried over.
    let session = || {
        Session::new(
            &Version::ALL,
            &Version::ALL,
            Script::one_message(body),
            Chunks::whole(),
        )
    };
    for (round, now) in [(0, 100), (1, 200)] {
        let mut s = session();
        s.caches = Some(caches);
        s.now = now;
        s.client_rng = TestRng(10 + round);
        s.server_rng = TestRng(20 + round);
        s.run();
        assert!(encrypted(&s), "round {round}: {:?}", s.app.replies);
        assert_eq!(s.mta.bodies(), vec![body.to_vec()]);
        caches = s.caches.take().unwrap();
        assert_eq!((caches.0.len(), caches.1.len()), (1, 1));
        assert_eq!((caches.0.rotations(), caches.1.rotations()), (1, 1));
    }
    // Past the lifetime: new key pairs, the caches emptied and refilled, still agreeing.
    let mut s = session();
    s.caches = Some(caches);
    s.now = 100 + 7200;
    s.run();
    assert!(encrypted(&s));
    let caches = s.caches.take().unwrap();
    assert_eq!((caches.0.rotations(), caches.1.rotations()), (2, 2));
}

/// A STARTTLS dialogue up to the switch, as (sent by the client?, bytes).
const STARTTLS_DIALOGUE: [(bool, &[u8]); 5] = [
    (false, b"220 mx\r\n"),
    (true, b"EHLO c\r\n"),
    (false, b"250-mx\r\n250 STARTTLS\r\n"),
    (true, b"STARTTLS\r\n"),
    (false, b"220 go\r\n"),
];

#[test]
fn starttls_turns_both_machines_into_pipes() {
    let tls = b"\x16\x03\x01\x00\x05XCRYPT OK\r\n\x00\xff";
    // Server side.
    let key = KeyPair::generate(&mut TestRng(5)).unwrap();
    let mut rng = TestRng(6);
    let mut out = Collect::default();
    let mut server = Server::new(&Version::ALL);
    let mut keys = StaticKeys::new(&key, &mut rng);
    for (from_peer, bytes) in STARTTLS_DIALOGUE {
        if from_peer {
            server.from_peer(bytes, &mut keys, &mut out)
        } else {
            server.from_local(bytes, &mut keys, &mut out)
        }
        .unwrap();
    }
    out = Collect::default();
    server.from_peer(tls, &mut keys, &mut out).unwrap();
    server.from_local(tls, &mut keys, &mut out).unwrap();
    assert_eq!((&out.local[..], &out.peer[..]), (&tls[..], &tls[..]));
    // Client side.
    let mut client = Client::new(&Version::ALL);
    let mut out = Collect::default();
    // The same dialogue seen from the other side: the server's lines come from the peer.
    for (from_client, bytes) in STARTTLS_DIALOGUE {
        if from_client {
            client.from_local(bytes, &mut out)
        } else {
            client.from_peer(bytes, &mut keys, &mut out)
        }
        .unwrap();
    }
    out = Collect::default();
    client.from_peer(tls, &mut keys, &mut out).unwrap();
    client.from_local(tls, &mut out).unwrap();
    assert_eq!((&out.local[..], &out.peer[..]), (&tls[..], &tls[..]));
    assert!(out.events.is_empty());
}

#[test]
fn a_local_client_that_does_not_wait_is_stopped_not_buffered_forever() {
    let key = KeyPair::generate(&mut TestRng(5)).unwrap();
    let mut rng = TestRng(6);
    let mut keys = StaticKeys::new(&key, &mut rng);
    let mut out = Collect::default();
    let mut client = Client::new(&Version::ALL);
    client
        .from_peer(b"220 mx\r\n", &mut keys, &mut out)
        .unwrap();
    client
        .from_local(b"EHLO c\r\nMAIL FROM:<a@b>\r\nDATA\r\n", &mut out)
        .unwrap();
    // DATA waits for its reply; a whole body sent before it is too much to hold.
    let flood = vec![b'x'; 4096];
    assert!(client.from_local(&flood, &mut out).is_err());
}

/// Pieces of SMTP that reach deep states, and junk.
fn fragment() -> impl Strategy<Value = Vec<u8>> {
    let start = {
        let k = PrivateKey::generate(&mut TestRng(0xC11E))
            .unwrap()
            .public_key();
        let hex: String = k.to_be_bytes().iter().map(|b| format!("{b:02x}")).collect();
        format!("XCRYPT t32_1.0 {hex} 0a0a0a0a0a0a0a0a0a0a\r\n").into_bytes()
    };
    let lines: Vec<Vec<u8>> = [
        &b"EHLO x\r\n"[..],
        b"XCRYPT OK\r\n",
        b"XCRYPT FAIL\r\n",
        b"MAIL FROM:<a@b>\r\n",
        b"DATA\r\n",
        b".\r\n",
        b"BDAT 5 LAST\r\n",
        b"BDAT 99999999999999999999\r\n",
        b"STARTTLS\r\n",
        b"250 ok\r\n",
        b"250-mx\r\n",
        b"250 XCRYPT t32_1.0 arrsyfor_1.0\r\n",
        b"250 XCRYPT OK\r\n",
        b"250 XCRYPT FAIL\r\n",
        b"354 go\r\n",
        b"220 hi\r\n",
        b"550 no\r\n",
        b"502 what\r\n",
    ]
    .iter()
    .map(|l| l.to_vec())
    .chain([
        start.clone(),
        [&b"250 "[..], &start[7..]].concat(),
        vec![b'y'; 700],
    ])
    .collect();
    prop_oneof![
        proptest::sample::select(lines),
        proptest::collection::vec(any::<u8>(), 0..40),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn no_panic_on_any_input(steps in proptest::collection::vec((0u8..4, fragment()), 0..40)) {
        let key = KeyPair::generate(&mut TestRng(5)).unwrap();
        let mut rng = TestRng(6);
        let mut keys = StaticKeys::new(&key, &mut rng);
        let mut out = Collect::default();
        let mut server = Server::new(&Version::ALL);
        let mut client = Client::new(&Version::ALL);
        // The property is that nothing here panics. Errors are fine: the caller ends the
        // session.
        for (side, bytes) in steps {
            let _ = match side {
                0 => server.from_peer(&bytes, &mut keys, &mut out),
                1 => server.from_local(&bytes, &mut keys, &mut out),
                2 => client.from_peer(&bytes, &mut keys, &mut out),
                _ => client.from_local(&bytes, &mut out),
            };
        }
    }
}
