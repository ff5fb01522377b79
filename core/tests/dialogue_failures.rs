//! Transcripts of every way an XCRYPT exchange can fail or be refused, on each side, and
//! the rules of docs/xcrypt.md §4 that go with them: each ends in a session that still
//! carries the mail, in plaintext.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

#[path = "support/session.rs"]
mod session;
#[path = "support/test_rng.rs"]
mod test_rng;

use session::{Chunks, Collect, Script, Session};
use ssmail_core::kdf::NONCE_BYTES;
use ssmail_core::xcrypt::{
    Client, Event, Fallback, KeySource, KeyUnavailable, Server, StaticKeys, Version,
};
use ssmail_core::{KeyPair, PrivateKey, PublicKey, SharedSecret, derive};
use ssmail_testkit::find;
use test_rng::TestRng;

const BODY: &[u8] = b"Subject: plain\r\n\r\nstill delivered\r\n";

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn key(seed: u64) -> PrivateKey {
    PrivateKey::generate(&mut TestRng(seed)).unwrap()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A key source that has nothing to give (no randomness, say).
struct Broken;

impl KeySource for Broken {
    fn own_public_key(&mut self) -> Result<PublicKey, KeyUnavailable> {
        Err(KeyUnavailable)
    }
    fn shared_secret(
        &mut self,
        _: &PublicKey,
        _: &PublicKey,
    ) -> Result<SharedSecret, KeyUnavailable> {
        Err(KeyUnavailable)
    }
    fn nonce(&mut self) -> Result<[u8; NONCE_BYTES], KeyUnavailable> {
        Err(KeyUnavailable)
    }
}

/// A server state machine driven by hand.
struct ServerSide {
    server: Server,
    key: KeyPair,
    rng: TestRng,
    out: Collect,
    broken: bool,
}

impl ServerSide {
    fn new(versions: &[Version]) -> Self {
        let mut s = Self {
            server: Server::new(versions),
            key: KeyPair::new(key(0x5E4E)),
            rng: TestRng(2),
            out: Collect::default(),
            broken: false,
        };
        s.local(b"220 mx.test ESMTP\r\n");
        s
    }

    /// Feeds bytes from the peer; returns what went back to the peer.
    fn peer(&mut self, bytes: &[u8]) -> Vec<u8> {
        let r = if self.broken {
            self.server.from_peer(bytes, &mut Broken, &mut self.out)
        } else {
            let mut keys = StaticKeys::new(&self.key, &mut self.rng);
            self.server.from_peer(bytes, &mut keys, &mut self.out)
        };
        r.unwrap();
        std::mem::take(&mut self.out.peer)
    }

    /// Feeds replies from the local MTA; returns what went to the peer.
    fn local(&mut self, bytes: &[u8]) -> Vec<u8> {
        let mut keys = StaticKeys::new(&self.key, &mut self.rng);
        self.server
            .from_local(bytes, &mut keys, &mut self.out)
            .unwrap();
        std::mem::take(&mut self.out.peer)
    }

    fn mta_got(&mut self) -> String {
        text(&std::mem::take(&mut self.out.local))
    }

    /// Sends the peer's XCRYPT start for `version` ([`start_line`]); the server's answer.
    fn start(&mut self, version: &str) -> String {
        text(&self.peer(start_line(version).as_bytes()))
    }

    /// One command from the peer and the MTA's reply to it, what goes back unread.
    fn turn(&mut self, command: &[u8], reply: &[u8]) {
        self.peer(command);
        self.local(reply);
    }

    /// Greeting and EHLO done; the offer checked.
    fn after_ehlo(versions: &[Version]) -> Self {
        let mut s = Self::new(versions);
        s.peer(b"EHLO c.test\r\n");
        assert_eq!(s.mta_got(), "EHLO c.test\r\n");
        s.local(b"250-mx.test\r\n250 8BITMIME\r\n");
        s
    }
}

/// The session's script ran as written (every reply as expected) and the MTA got the
/// one message, [`BODY`].
fn assert_delivered(s: &Session) {
    assert!(
        s.app.done() && s.app.unexpected.is_empty(),
        "{:?}",
        s.app.replies
    );
    assert_eq!(s.mta.bodies(), vec![BODY.to_vec()]);
}

fn start_line(version: &str) -> String {
    let k = key(0xC11E).public_key().to_be_bytes();
    format!("XCRYPT {version} {} {}\r\n", hex(&k), "0a".repeat(10))
}

#[test]
fn server_rewrites_ehlo_replies_single_and_multi_line() {
    let mut s = ServerSide::new(&Version::ALL);
    assert_eq!(text(&s.peer(b"EHLO c.test\r\n")), "");
    assert_eq!(
        text(&s.local(b"250 mx.test\r\n")),
        "250-mx.test\r\n250 XCRYPT t32_1.0 arrsyfor_1.0\r\n"
    );
    s.peer(b"EHLO c.test\r\n");
    // An XCRYPT line from the MTA itself is replaced by ours.
    assert_eq!(
        text(&s.local(b"250-mx.test\r\n250-XCRYPT foo_9.9\r\n250 SIZE 100\r\n")),
        "250-mx.test\r\n250-SIZE 100\r\n250 XCRYPT t32_1.0 arrsyfor_1.0\r\n"
    );
    // An EHLO refused by the MTA is passed on as it is.
    s.peer(b"EHLO c.test\r\n");
    assert_eq!(text(&s.local(b"550 go away\r\n")), "550 go away\r\n");
}

#[test]
fn server_hides_the_keywords_it_is_told_to_and_keeps_the_rest() {
    let mut s = ServerSide::new(&Version::ALL);
    s.server = Server::new(&Version::ALL).hiding(&["STARTTLS", "PIPECONNECT"]);
    s.local(b"220 mx.test ESMTP\r\n");
    s.peer(b"EHLO c.test\r\n");
    // Exim's reply (smtp-peers notes): the keywords are matched without regard to case,
    // a keyword that only starts like a hidden one stays, and the first line is the
    // server's name even when it looks like a keyword.
    let reply = "250-STARTTLS Hello c.test\r\n250-SIZE 52428800\r\n250-8BITMIME\r\n\
                 250-PIPELINING\r\n250-pipeconnect\r\n250-CHUNKING\r\n250-STARTTLSX\r\n\
                 250 starttls\r\n";
    assert_eq!(
        text(&s.local(reply.as_bytes())),
        "250-STARTTLS Hello c.test\r\n250-SIZE 52428800\r\n250-8BITMIME\r\n\
         250-PIPELINING\r\n250-CHUNKING\r\n250-STARTTLSX\r\n\
         250 XCRYPT t32_1.0 arrsyfor_1.0\r\n"
    );
    // Without an offer (no versions), the last kept line becomes the last line.
    let mut s = ServerSide::new(&[]);
    s.server = Server::new(&[]).hiding(&["STARTTLS"]);
    s.local(b"220 mx.test ESMTP\r\n");
    s.peer(b"EHLO c.test\r\n");
    assert_eq!(
        text(&s.local(b"250-mx.test\r\n250-SIZE 1\r\n250 STARTTLS\r\n")),
        "250-mx.test\r\n250 SIZE 1\r\n"
    );
}

#[test]
fn server_refuses_bad_commands_with_the_spec_codes() {
    let p_minus_1 = {
        let mut k = ssmail_bigint_x86::oakley::P.to_be_bytes();
        k[95] -= 1;
        hex(&k)
    };
    let good_key = hex(&key(7).public_key().to_be_bytes());
    let cases = [
        ("XCRYPT\r\n".to_string(), "501 XCRYPT FAIL"),
        ("XCRYPT t32_1.0 zz 0a0a\r\n".to_string(), "501 XCRYPT FAIL"),
        (
            format!("XCRYPT t32_1.0 {p_minus_1} {}\r\n", "0a".repeat(10)),
            "501 XCRYPT FAIL",
        ),
        (
            format!("XCRYPT t32_1.0 {good_key} {}\r\n", "0a".repeat(9)),
            "501 XCRYPT FAIL",
        ),
        (
            format!("XCRYPT t32_1.0 {good_key} {}0\r\n", "0a".repeat(10)),
            "501 XCRYPT FAIL",
        ),
        (
            format!("XCRYPT des_1.0 {good_key} {}\r\n", "0a".repeat(10)),
            "504 XCRYPT FAIL",
        ),
        (format!("XCRYPT {}\r\n", "A".repeat(600)), "501 XCRYPT FAIL"),
        ("XCRYPT OK\r\n".to_string(), "503 "),
        ("XCRYPT FAIL\r\n".to_string(), "503 "),
    ];
    for (cmd, want) in cases {
        let mut s = ServerSide::after_ehlo(&Version::ALL);
        let got = text(&s.peer(cmd.as_bytes()));
        assert!(got.starts_with(want), "{cmd:.40}: {got}");
        assert_eq!(s.mta_got(), "", "XCRYPT lines never reach the MTA");
        // And the session goes on: the next command reaches the MTA.
        s.peer(b"MAIL FROM:<a@b>\r\n");
        assert_eq!(s.mta_got(), "MAIL FROM:<a@b>\r\n");
    }
    // A server that offers only arrsyfor refuses t32 with 504.
    let mut s = ServerSide::after_ehlo(&[Version::ArrsyforV1_0]);
    assert!(s.start("t32_1.0").starts_with("504 XCRYPT FAIL"));
    assert!(s.out.events.contains(&Event::Refused { code: 504 }));
}

#[test]
fn server_answers_454_when_it_has_no_keys() {
    let mut s = ServerSide::after_ehlo(&Version::ALL);
    s.broken = true;
    assert!(s.start("t32_1.0").starts_with("454 XCRYPT FAIL"));
}

#[test]
fn server_refuses_xcrypt_in_the_wrong_state() {
    // Before EHLO.
    let mut s = ServerSide::new(&Version::ALL);
    assert!(s.start("t32_1.0").starts_with("503 "));
    // After HELO (no extensions).
    s.turn(b"HELO c.test\r\n", b"250 mx.test\r\n");
    assert!(s.start("t32_1.0").starts_with("503 "));
    // Inside a mail transaction, and again once it ends.
    let mut s = ServerSide::after_ehlo(&Version::ALL);
    s.turn(b"MAIL FROM:<a@b>\r\n", b"250 ok\r\n");
    assert!(s.start("t32_1.0").starts_with("503 "));
    s.turn(b"RSET\r\n", b"250 ok\r\n");
    assert!(s.start("t32_1.0").starts_with("250 XCRYPT "));
    // A MAIL the MTA refused opens no transaction.
    let mut s = ServerSide::after_ehlo(&Version::ALL);
    s.turn(b"MAIL FROM:<a@b>\r\n", b"550 no\r\n");
    assert!(s.start("t32_1.0").starts_with("250 XCRYPT "));
}

#[test]
fn server_discards_bytes_behind_the_xcrypt_command_and_answers_503() {
    let mut s = ServerSide::after_ehlo(&Version::ALL);
    let mut input = start_line("t32_1.0").into_bytes();
    input.extend_from_slice(b"MAIL FROM:<injected@x>\r\n");
    assert!(text(&s.peer(&input)).starts_with("503 "));
    assert_eq!(s.mta_got(), "", "the injected command was read");
    assert!(s.out.events.contains(&Event::Discarded { bytes: 24 }));
}

#[test]
fn server_waits_for_earlier_replies_before_answering_xcrypt() {
    // RSET then XCRYPT in one group: the reply to RSET comes first.
    let mut s = ServerSide::after_ehlo(&Version::ALL);
    let mut input = b"RSET\r\n".to_vec();
    input.extend_from_slice(start_line("t32_1.0").as_bytes());
    assert_eq!(text(&s.peer(&input)), "");
    assert_eq!(s.mta_got(), "RSET\r\n");
    let out = text(&s.local(b"250 reset\r\n"));
    assert!(out.starts_with("250 reset\r\n250 XCRYPT "), "{out}");
    // Bytes that arrive behind the waiting XCRYPT line are dropped, and it gets 503.
    let mut s = ServerSide::after_ehlo(&Version::ALL);
    s.peer(&input);
    s.peer(b"MAIL FROM:<x@y>\r\n");
    let out = text(&s.local(b"250 reset\r\n"));
    assert!(out.starts_with("250 reset\r\n503 "), "{out}");
    assert_eq!(s.mta_got(), "RSET\r\n");
}

#[test]
fn server_reads_what_came_behind_a_waiting_xcrypt_fail_after_answering_it() {
    let mut s = ServerSide::after_ehlo(&Version::ALL);
    assert_eq!(text(&s.peer(b"RSET\r\nXCRYPT FAIL\r\n")), "");
    // Not a switch point: what comes behind it waits, and is read after the answer.
    assert_eq!(text(&s.peer(b"MAIL FROM:<a@b>\r\n")), "");
    assert_eq!(s.mta_got(), "RSET\r\n");
    let out = text(&s.local(b"250 reset\r\n"));
    assert!(out.starts_with("250 reset\r\n503 "), "{out}");
    assert_eq!(s.mta_got(), "MAIL FROM:<a@b>\r\n");
}

/// Runs the exchange against the server by hand as a client would; returns the
/// direction keys.
fn exchange(s: &mut ServerSide, after_ok: &[u8]) -> ssmail_core::DirectionKeys {
    let reply = s.start("t32_1.0");
    let mut parts = reply.trim_end().split(' ');
    assert_eq!((parts.next(), parts.next()), (Some("250"), Some("XCRYPT")));
    let kb = PublicKey::from_hex(parts.next().unwrap()).unwrap();
    let nb: Vec<u8> = (0..10)
        .map(|i| u8::from_str_radix(&parts.clone().next().unwrap()[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let z = ssmail_core::shared_secret(&key(0xC11E), &kb);
    let keys = derive(z.as_bytes(), &[0x0a; 10], &nb.try_into().unwrap());
    let mut ok = b"XCRYPT OK\r\n".to_vec();
    ok.extend_from_slice(after_ok);
    assert_eq!(text(&s.peer(&ok)), "250 XCRYPT OK\r\n");
    keys
}

#[test]
fn server_discards_bytes_behind_xcrypt_ok_and_then_refuses_xcrypt() {
    use ssmail_ciphers::{KeyInit, StreamCipher, T32};
    let mut s = ServerSide::after_ehlo(&Version::ALL);
    let keys = exchange(&mut s, b"MAIL FROM:<injected@x>\r\n");
    assert_eq!(s.mta_got(), "");
    assert!(s.out.events.contains(&Event::Discarded { bytes: 24 }));
    assert!(
        s.out
            .events
            .contains(&Event::EncryptionOn(Version::T32V1_0))
    );
    let mut c2s = T32::new(&keys.client_to_server.into());
    let mut s2c = T32::new(&keys.server_to_client.into());
    // Encrypted from the first byte after the switch points.
    let mut cmd = start_line("t32_1.0").into_bytes();
    c2s.apply_keystream(&mut cmd);
    let mut reply = s.peer(&cmd);
    s2c.apply_keystream(&mut reply);
    assert!(text(&reply).starts_with("503 "), "{}", text(&reply));
    let mut cmd = b"EHLO again\r\n".to_vec();
    c2s.apply_keystream(&mut cmd);
    s.peer(&cmd);
    assert_eq!(s.mta_got(), "EHLO again\r\n");
    // The EHLO reply no longer offers XCRYPT, and an XCRYPT line from the MTA is dropped.
    let mut reply = s.local(b"250-mx.test\r\n250-XCRYPT t32_1.0\r\n250 8BITMIME\r\n");
    s2c.apply_keystream(&mut reply);
    assert_eq!(text(&reply), "250-mx.test\r\n250 8BITMIME\r\n");
}

#[test]
fn server_acknowledges_xcrypt_fail_and_goes_on_in_plaintext() {
    let mut s = ServerSide::after_ehlo(&Version::ALL);
    assert!(s.start("t32_1.0").starts_with("250 XCRYPT "));
    assert_eq!(text(&s.peer(b"XCRYPT FAIL\r\n")), "250 XCRYPT FAIL\r\n");
    assert!(
        s.out
            .events
            .contains(&Event::Plaintext(Fallback::ClientFailed))
    );
    s.peer(b"MAIL FROM:<a@b>\r\n");
    assert_eq!(s.mta_got(), "MAIL FROM:<a@b>\r\n");
    assert_eq!(text(&s.local(b"250 ok\r\n")), "250 ok\r\n");
}

#[test]
fn server_passes_long_lines_and_data_through() {
    let mut s = ServerSide::after_ehlo(&Version::ALL);
    let long = format!("NOOP {}\r\n", "x".repeat(2000));
    s.peer(long.as_bytes());
    assert_eq!(s.mta_got(), long);
    let long_reply = format!("250 {}\r\n", "y".repeat(1000));
    assert_eq!(text(&s.local(long_reply.as_bytes())), long_reply);
    // A body line that looks like XCRYPT is mail, not a command.
    s.peer(b"MAIL FROM:<a@b>\r\n");
    s.local(b"250 ok\r\n");
    s.peer(b"DATA\r\n");
    s.local(b"354 go\r\n");
    let body = format!("{}XCRYPT OK\r\n.\r\n", start_line("t32_1.0"));
    assert_eq!(text(&s.peer(body.as_bytes())), "");
    assert_eq!(s.mta_got(), format!("MAIL FROM:<a@b>\r\nDATA\r\n{body}"));
}

/// A client state machine driven by hand against a scripted server.
struct ClientSide {
    client: Client,
    key: KeyPair,
    rng: TestRng,
    out: Collect,
}

impl ClientSide {
    fn new(versions: &[Version]) -> Self {
        Self {
            client: Client::new(versions),
            key: KeyPair::new(key(0xC11E)),
            rng: TestRng(1),
            out: Collect::default(),
        }
    }

    /// Feeds server bytes; returns (to the server, to the local client).
    fn peer(&mut self, bytes: &[u8]) -> (String, String) {
        let mut keys = StaticKeys::new(&self.key, &mut self.rng);
        self.client
            .from_peer(bytes, &mut keys, &mut self.out)
            .unwrap();
        (
            text(&std::mem::take(&mut self.out.peer)),
            text(&std::mem::take(&mut self.out.local)),
        )
    }

    fn local(&mut self, bytes: &[u8]) -> String {
        self.client.from_local(bytes, &mut self.out).unwrap();
        text(&std::mem::take(&mut self.out.peer))
    }

    /// Greeting and EHLO with an offer; returns the XCRYPT command sent.
    fn offered(versions: &[Version], offer: &str) -> (Self, String) {
        let mut c = Self::new(versions);
        assert_eq!(c.peer(b"220 mx\r\n").1, "220 mx\r\n");
        assert_eq!(c.local(b"EHLO c.test\r\n"), "EHLO c.test\r\n");
        let reply = format!("250-mx\r\n250-{offer}\r\n250 SIZE 1\r\n");
        let (sent, local) = c.peer(reply.as_bytes());
        (c, sent + "|" + &local)
    }
}

#[test]
fn client_falls_back_when_the_server_does_not_know_xcrypt() {
    for code in ["500", "502"] {
        let (mut c, sent) = ClientSide::offered(&Version::ALL, "XCRYPT t32_1.0");
        let (cmd, local) = sent.split_once('|').unwrap();
        assert!(cmd.starts_with("XCRYPT t32_1.0 "));
        // The EHLO reply's last line is held back during the exchange.
        assert_eq!(local, "250-mx\r\n");
        // Whatever the local client sends meanwhile waits.
        assert_eq!(c.local(b"MAIL FROM:<a@b>\r\n"), "");
        let (sent, local) = c.peer(format!("{code} 5.5.2 what?\r\n").as_bytes());
        assert_eq!(sent, "MAIL FROM:<a@b>\r\n");
        assert_eq!(local, "250 SIZE 1\r\n");
        let code: u16 = code.parse().unwrap();
        assert!(
            c.out
                .events
                .contains(&Event::Plaintext(Fallback::NotSupported { code }))
        );
    }
}

#[test]
fn client_falls_back_on_each_refusal() {
    for (reply, why) in [
        (
            "501 XCRYPT FAIL syntax\r\n",
            Fallback::Refused { code: 501 },
        ),
        (
            "504 XCRYPT FAIL no common version\r\n",
            Fallback::Refused { code: 504 },
        ),
        ("454 XCRYPT FAIL later\r\n", Fallback::Refused { code: 454 }),
        ("503 bad sequence\r\n", Fallback::Refused { code: 503 }),
        ("421 closing\r\n", Fallback::BadReply),
        ("550-multi\r\n550 line\r\n", Fallback::BadReply),
    ] {
        let (mut c, _) = ClientSide::offered(&Version::ALL, "XCRYPT t32_1.0");
        let (sent, local) = c.peer(reply.as_bytes());
        assert_eq!(
            (sent.as_str(), local.as_str()),
            ("", "250 SIZE 1\r\n"),
            "{reply}"
        );
        assert!(c.out.events.contains(&Event::Plaintext(why)), "{reply}");
        assert_eq!(c.client.version(), None);
        assert_eq!(c.local(b"MAIL FROM:<a@b>\r\n"), "MAIL FROM:<a@b>\r\n");
    }
}

#[test]
fn client_rejects_a_bad_server_key_with_xcrypt_fail() {
    let one = format!("{:0>192}", "1");
    let good = hex(&key(3).public_key().to_be_bytes());
    for reply in [
        format!("250 XCRYPT {one} {}\r\n", "00".repeat(10)),
        format!("250 XCRYPT {good} {}\r\n", "00".repeat(9)),
        "250 XCRYPT\r\n".to_string(),
        "250-XCRYPT\r\n250 more\r\n".to_string(),
    ] {
        let (mut c, _) = ClientSide::offered(&Version::ALL, "XCRYPT t32_1.0");
        let (sent, local) = c.peer(reply.as_bytes());
        assert_eq!(
            (sent.as_str(), local.as_str()),
            ("XCRYPT FAIL\r\n", ""),
            "{reply}"
        );
        let (sent, local) = c.peer(b"250 XCRYPT FAIL\r\n");
        assert_eq!((sent.as_str(), local.as_str()), ("", "250 SIZE 1\r\n"));
        assert!(
            c.out.events.iter().any(|e| matches!(
                e,
                Event::Plaintext(Fallback::BadServerKey | Fallback::BadReply)
            )),
            "{reply}"
        );
    }
}

#[test]
fn client_without_a_common_version_or_offer_goes_on_in_plaintext() {
    let (mut c, sent) = ClientSide::offered(&[Version::T32V1_0], "XCRYPT arrsyfor_1.0 rot13_1.0");
    assert_eq!(sent, "|250-mx\r\n250 SIZE 1\r\n");
    assert!(
        c.out
            .events
            .contains(&Event::Plaintext(Fallback::NoCommonVersion))
    );
    assert_eq!(c.local(b"QUIT\r\n"), "QUIT\r\n");
    let (_, sent) = ClientSide::offered(&Version::ALL, "8BITMIME");
    assert_eq!(sent, "|250-mx\r\n250-8BITMIME\r\n250 SIZE 1\r\n");
}

#[test]
fn client_discards_bytes_behind_250_xcrypt_ok() {
    let mut s = ServerSide::after_ehlo(&Version::ALL);
    let (mut c, sent) = ClientSide::offered(&Version::ALL, "XCRYPT t32_1.0");
    let (cmd, _) = sent.split_once('|').unwrap();
    let reply = s.peer(cmd.as_bytes());
    let (ok, _) = c.peer(&reply);
    assert_eq!(ok, "XCRYPT OK\r\n");
    assert_eq!(text(&s.peer(ok.as_bytes())), "250 XCRYPT OK\r\n");
    // An injected reply right behind the switch point must not reach the local client.
    let (_, local) = c.peer(b"250 XCRYPT OK\r\n250 injected\r\n");
    assert_eq!(local, "250 SIZE 1\r\n");
    assert!(c.out.events.contains(&Event::Discarded { bytes: 14 }));
    assert_eq!(c.client.version(), Some(Version::T32V1_0));
}

#[test]
fn whole_sessions_fall_back_and_still_deliver() {
    // No offer, no common version, and a server whose keys fail (454).
    for (client, server, why) in [
        (&Version::ALL[..], &[][..], Fallback::NotOffered),
        (
            &[Version::T32V1_0][..],
            &[Version::ArrsyforV1_0][..],
            Fallback::NoCommonVersion,
        ),
    ] {
        let mut s = Session::new(
            client,
            server,
            Script::one_message(BODY),
            Chunks::new(vec![7]),
        );
        s.run();
        assert_delivered(&s);
        assert!(s.client_out.events.contains(&Event::Plaintext(why)));
        assert!(find(&s.wire_c2s, b"MAIL FROM:<alice@client.test>").is_some());
    }
    // A tampered server key: the client says XCRYPT FAIL, the mail goes in plaintext.
    let mut s = Session::new(
        &Version::ALL,
        &Version::ALL,
        Script::one_message(BODY),
        Chunks::whole(),
    );
    s.tamper_s2c = Some(Box::new(|b: &mut Vec<u8>| {
        if b.starts_with(b"250 XCRYPT ") && b.len() > 30 {
            b[11..11 + 192].copy_from_slice(format!("{:0>192}", "1").as_bytes());
        }
    }));
    s.run();
    assert_delivered(&s);
    assert!(
        s.client_out
            .events
            .contains(&Event::Plaintext(Fallback::BadServerKey))
    );
    assert!(
        s.server_out
            .events
            .contains(&Event::Plaintext(Fallback::ClientFailed))
    );
}

#[test]
fn the_client_names_its_key_while_the_servers_key_is_awaited() {
    let mut s = ServerSide::after_ehlo(&Version::ALL);
    let (mut c, sent) = ClientSide::offered(&Version::ALL, "XCRYPT t32_1.0");
    // The key the command carries, until the reply to it is read.
    assert_eq!(c.client.awaiting_key(), Some(c.key.public()));
    assert!(sent.contains(&hex(&c.key.public().to_be_bytes())));
    let (cmd, _) = sent.split_once('|').unwrap();
    let reply = s.peer(cmd.as_bytes());
    let (ok, _) = c.peer(&reply);
    assert_eq!(ok, "XCRYPT OK\r\n");
    assert_eq!(c.client.awaiting_key(), None);
    // Refused: none either.
    let (mut c, _) = ClientSide::offered(&Version::ALL, "XCRYPT t32_1.0");
    assert!(c.client.awaiting_key().is_some());
    c.peer(b"454 XCRYPT FAIL later\r\n");
    assert_eq!(c.client.awaiting_key(), None);
}
