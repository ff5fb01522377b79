//! The server side of the dialogue (docs/xcrypt.md §4), between the network (a client that
//! may speak XCRYPT) and a local SMTP server that knows nothing of it.
//!
//! Commands pass from the peer to the local server, replies back, unchanged but for
//! three things: EHLO replies gain the `XCRYPT` keyword line (until encryption is on),
//! `XCRYPT` commands are answered here and never passed on, and after the switch points
//! both directions are encrypted on the network side.

use crate::kdf::{DirectionKeys, NONCE_BYTES, derive};
use crate::xcrypt::codes;
use crate::xcrypt::command::{Command, CommandError};
use crate::xcrypt::ehlo::{EhloRewrite, offer_line};
use crate::xcrypt::events::{Event, Fallback, SessionError, Sink};
use crate::xcrypt::framing::{Framer, Piece, is_quit};
use crate::xcrypt::key_source::KeySource;
use crate::xcrypt::line::{Line, after_keyword};
use crate::xcrypt::pending::{Kind, Pending};
use crate::xcrypt::relay::{self, Ciphers};
use crate::xcrypt::reply::{Reply, reply_head};
use crate::xcrypt::version::{Offer, Version};

/// Where the exchange stands.
#[allow(
    clippy::large_enum_variant,
    reason = "no allocator to box with; the ciphers live in the state that has them"
)]
enum State {
    /// No exchange under way; what the SMTP dialogue allows decides whether one may start.
    Plain(Dialogue),
    /// `250 XCRYPT <Kb> <Nb>` sent; waiting for `XCRYPT OK` or `XCRYPT FAIL`.
    AwaitOk {
        version: Version,
        keys: DirectionKeys,
    },
    /// Encrypted from here on, for the rest of the session.
    Active { version: Version, ciphers: Ciphers },
}

/// What the SMTP dialogue allows, as far as XCRYPT cares (docs/xcrypt.md §4.1): only
/// after a successful EHLO, and outside a mail transaction. Tracked in plaintext only;
/// once encrypted, XCRYPT is refused whatever the dialogue does.
#[derive(Clone, Copy, Default)]
struct Dialogue {
    ehlo_seen: bool,
    in_transaction: bool,
}

impl Dialogue {
    /// Where an exchange that went back to plaintext leaves the dialogue: it could only
    /// start after EHLO, outside a transaction, and no reply has come since.
    const AFTER_EXCHANGE: Self = Self {
        ehlo_seen: true,
        in_transaction: false,
    };

    fn allows_xcrypt(self) -> bool {
        self.ehlo_seen && !self.in_transaction
    }

    /// A reply to `kind` with `code` is complete.
    fn reply(&mut self, kind: Option<Kind>, code: u16) {
        let ok = codes::is_positive(code);
        match kind {
            Some(Kind::Ehlo) => {
                self.ehlo_seen = code == codes::OK;
                self.in_transaction &= !ok;
            }
            Some(Kind::Helo) if ok => *self = Self::default(),
            Some(Kind::Mail) if ok => self.in_transaction = true,
            Some(Kind::Rset) if ok => self.in_transaction = false,
            Some(Kind::BodyEnd) => self.in_transaction = false,
            _ => {}
        }
    }
}

/// The over-long reply line being passed on from the local server.
#[derive(Clone, Copy)]
struct LongReply {
    code: u16,
    /// It is the last line of its reply.
    last: bool,
    /// The XCRYPT offer line goes after it (it ends a 250 EHLO reply).
    offer_after: bool,
}

/// An `XCRYPT` line from the peer, parsed once.
struct XcryptLine {
    parsed: Result<Command, CommandError>,
    /// `XCRYPT <Va> ...` or `XCRYPT OK`: bytes behind it are dropped unread (docs/xcrypt.md §4.2).
    ends_input: bool,
    /// Bytes came behind it.
    behind: bool,
}

/// Why input from the peer is not being read on.
#[allow(
    clippy::large_enum_variant,
    reason = "no allocator; one per session, and the command must be kept"
)]
enum Pause {
    /// DATA or STARTTLS was passed on: what follows depends on the reply.
    Reply,
    /// An `XCRYPT` line waits for the replies to the commands before it.
    Xcrypt(XcryptLine),
}

/// A server-side XCRYPT session. No I/O, no allocation: feed it what arrives from the
/// peer ([`from_peer`](Self::from_peer)) and from the local server
/// ([`from_local`](Self::from_local)); it hands what to send on to a [`Sink`].
pub struct Server {
    offer: Offer,
    state: State,
    /// The client has sent a `QUIT` command line.
    quit_sent: bool,
    pending: Pending,
    peer_in: Framer,
    local_in: Framer,
    pause: Option<Pause>,
    /// Bytes from the peer that arrived during a [`Pause::Reply`], already decrypted.
    held: Line,
    /// The over-long command line being read is an `XCRYPT` one (swallowed, then 501).
    long_xcrypt: bool,
    /// The EHLO reply being rewritten.
    ehlo: Option<EhloRewrite>,
    /// Keywords taken out of the local server's EHLO replies besides XCRYPT.
    hide: &'static [&'static str],
    long_reply: Option<LongReply>,
}

impl core::fmt::Debug for Server {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Server")
            .field("offer", &self.offer)
            .field("encrypted", &self.version())
            .finish_non_exhaustive()
    }
}

impl Server {
    /// A session that offers `versions`, most preferred first, before the greeting.
    pub fn new(versions: &[Version]) -> Self {
        Self {
            offer: Offer::new(versions),
            state: State::Plain(Dialogue::default()),
            quit_sent: false,
            pending: Pending::new(),
            peer_in: Framer::new(),
            local_in: Framer::new(),
            pause: None,
            held: Line::new(),
            long_xcrypt: false,
            ehlo: None,
            long_reply: None,
            hide: &[],
        }
    }

    /// Also takes the lines of these EHLO keywords (matched without regard to case) out
    /// of the local server's EHLO replies: what a proxy in front of the server cannot
    /// carry, such as `STARTTLS` or `PIPECONNECT`.
    #[must_use]
    pub fn hiding(mut self, keywords: &'static [&'static str]) -> Self {
        self.hide = keywords;
        self
    }

    /// Whether the client has sent a `QUIT` command line. Only command lines count (as
    /// the framer cuts them): a line reading `QUIT` inside a message body does not.
    pub fn quit_sent(&self) -> bool {
        self.quit_sent
    }

    /// The version in use once encryption is on.
    pub fn version(&self) -> Option<Version> {
        match self.state {
            State::Active { version, .. } => Some(version),
            _ => None,
        }
    }

    /// Bytes that arrived from the peer (ciphertext once encryption is on).
    ///
    /// # Errors
    /// The peer broke the rules in a way that would need unbounded buffering; the
    /// caller should end the session.
    pub fn from_peer(
        &mut self,
        input: &[u8],
        keys: &mut impl KeySource,
        out: &mut impl Sink,
    ) -> Result<(), SessionError> {
        relay::from_peer(self, input, keys, out)
    }

    /// Bytes from the local server (plaintext replies).
    ///
    /// # Errors
    /// As [`from_peer`](Self::from_peer), when a waiting command of the peer's runs.
    pub fn from_local(
        &mut self,
        input: &[u8],
        keys: &mut impl KeySource,
        out: &mut impl Sink,
    ) -> Result<(), SessionError> {
        let mut rest = input;
        while let Some(piece) = self.local_in.next(&mut rest) {
            match piece {
                Piece::Raw(b, _) => self.send_peer(b, out),
                Piece::Line(line) => self.reply_line(line, keys, out)?,
                Piece::LongHead(head) => self.long_reply_head(head, out),
                Piece::LongTail(tail, ends) => {
                    self.send_peer(tail, out);
                    if ends {
                        if let Some(long) = self.long_reply.take() {
                            if long.offer_after {
                                let line = offer_line(&self.offer, true);
                                self.send_peer(line.as_bytes(), out);
                            }
                            if long.last {
                                self.reply_done(long.code, keys, out)?;
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn send_peer(&mut self, bytes: &[u8], out: &mut impl Sink) {
        relay::to_peer(self.state.ciphers(), bytes, out);
    }

    /// Whether EHLO replies carry the offer now.
    fn offering(&self) -> bool {
        !matches!(self.state, State::Active { .. }) && !self.offer.is_empty()
    }

    fn peer_plain(
        &mut self,
        input: &[u8],
        keys: &mut impl KeySource,
        out: &mut impl Sink,
    ) -> Result<(), SessionError> {
        let mut rest = input;
        loop {
            match &mut self.pause {
                // Bytes behind an XCRYPT line that ends the input are dropped unread;
                // behind the others they wait like any pause.
                Some(Pause::Xcrypt(x)) if x.ends_input => {
                    if !rest.is_empty() {
                        x.behind = true;
                        out.event(Event::Discarded { bytes: rest.len() });
                    }
                    return Ok(());
                }
                Some(Pause::Xcrypt(_) | Pause::Reply) => return relay::hold(&mut self.held, rest),
                None => {}
            }
            let Some(piece) = self.peer_in.next(&mut rest) else {
                return Ok(());
            };
            match piece {
                Piece::Raw(b, body_end) => {
                    out.to_local(b);
                    if body_end {
                        self.pending.push(Kind::BodyEnd)?;
                    }
                }
                Piece::Line(line) => self.command(line, &mut rest, keys, out)?,
                Piece::LongHead(head) => {
                    self.long_xcrypt = after_keyword(head.as_bytes()).is_some();
                    if !self.long_xcrypt {
                        out.to_local(head.as_bytes());
                    }
                }
                Piece::LongTail(tail, ends) => {
                    if !self.long_xcrypt {
                        out.to_local(tail);
                    }
                    if ends {
                        if core::mem::take(&mut self.long_xcrypt) {
                            // An XCRYPT line too long to hold: answered 501 in its turn.
                            let x = XcryptLine {
                                parsed: Err(CommandError::TooLong),
                                ends_input: false,
                                behind: false,
                            };
                            self.xcrypt_line(x, &mut rest, keys, out);
                        } else {
                            self.pending.push(Kind::Other)?;
                        }
                    }
                }
            }
        }
    }

    /// A whole command line from the peer.
    fn command(
        &mut self,
        line: Line,
        rest: &mut &[u8],
        keys: &mut impl KeySource,
        out: &mut impl Sink,
    ) -> Result<(), SessionError> {
        if let Some(parsed) = Command::parse(line.as_bytes()) {
            let x = XcryptLine {
                ends_input: ends_input(&parsed, line.as_bytes()),
                parsed,
                behind: false,
            };
            self.xcrypt_line(x, rest, keys, out);
            return Ok(());
        }
        if let State::AwaitOk { .. } = self.state {
            self.state = State::Plain(Dialogue::AFTER_EXCHANGE);
            out.event(Event::Plaintext(Fallback::ClientAbandoned));
        }
        let kind = self.peer_in.command(line.as_bytes());
        self.pending.push(kind)?;
        if matches!(kind, Kind::Data | Kind::StartTls) {
            self.pause = Some(Pause::Reply);
        }
        self.quit_sent |= is_quit(line.as_bytes());
        out.to_local(line.as_bytes());
        Ok(())
    }

    /// An `XCRYPT` line from the peer. It is answered only when every command before it
    /// has its reply, so that replies stay in order.
    fn xcrypt_line(
        &mut self,
        mut x: XcryptLine,
        rest: &mut &[u8],
        keys: &mut impl KeySource,
        out: &mut impl Sink,
    ) {
        if x.ends_input && !rest.is_empty() {
            out.event(Event::Discarded { bytes: rest.len() });
            *rest = &[];
            x.behind = true;
        }
        if self.pending.is_empty() {
            self.answer_xcrypt(x, keys, out);
        } else {
            self.pause = Some(Pause::Xcrypt(x));
        }
    }

    fn answer_xcrypt(&mut self, x: XcryptLine, keys: &mut impl KeySource, out: &mut impl Sink) {
        let behind = x.behind;
        // Matched by reference, small fields copied out: moving the whole `State` out with
        // `mem::replace` put a copy of it, ciphers' room included, in this frame
        // (firmware/README.md, stack findings).
        let reply = match (&self.state, x.parsed) {
            (State::Active { .. }, _) => Reply::BadSequence,
            (state, Err(why)) => {
                if let State::AwaitOk { .. } = state {
                    self.state = State::Plain(Dialogue::AFTER_EXCHANGE);
                    out.event(Event::Plaintext(Fallback::ClientAbandoned));
                }
                Reply::refusal(why)
            }
            (
                State::Plain(dialogue),
                Ok(Command::Start {
                    version,
                    key,
                    nonce,
                }),
            ) => {
                if behind || !dialogue.allows_xcrypt() {
                    Reply::BadSequence
                } else if !self.offer.contains(version) {
                    Reply::refusal(CommandError::NoCommonVersion)
                } else {
                    self.start(version, &key, &nonce, keys, out)
                }
            }
            (State::AwaitOk { version, keys }, Ok(Command::Ok)) => {
                let (version, dk) = (*version, keys.clone());
                // `250 XCRYPT OK` is the last plaintext line; the client's bytes behind
                // its `XCRYPT OK` were ciphertext (and dropped, docs/xcrypt.md §4.2).
                self.state = State::Plain(Dialogue::AFTER_EXCHANGE);
                self.send_peer(Reply::Ok.write().as_bytes(), out);
                self.activate(version, &dk);
                out.event(Event::EncryptionOn(version));
                return;
            }
            (State::AwaitOk { .. }, Ok(Command::Fail)) => {
                self.state = State::Plain(Dialogue::AFTER_EXCHANGE);
                out.event(Event::Plaintext(Fallback::ClientFailed));
                Reply::FailAck
            }
            (State::AwaitOk { .. }, Ok(Command::Start { .. })) => {
                self.state = State::Plain(Dialogue::AFTER_EXCHANGE);
                out.event(Event::Plaintext(Fallback::ClientAbandoned));
                Reply::BadSequence
            }
            (State::Plain(_), Ok(Command::Ok | Command::Fail)) => Reply::BadSequence,
        };
        if let Reply::Refused { code } = reply {
            out.event(Event::Refused { code });
        }
        if let Reply::BadSequence = reply {
            out.event(Event::Refused {
                code: codes::BAD_SEQUENCE,
            });
        }
        self.send_peer(reply.write().as_bytes(), out);
    }

    /// Encryption on. Not inlined: the ciphers are built in a temporary before they move
    /// into the state, and in a frame of its own that temporary is on the stack only
    /// while this runs, not for as long as the dialogue code that calls it.
    #[inline(never)]
    fn activate(&mut self, version: Version, dk: &DirectionKeys) {
        self.state = State::Active {
            version,
            ciphers: Ciphers::new(version, &dk.server_to_client, &dk.client_to_server),
        };
    }

    /// `XCRYPT <Va> <Ka> <Na>` accepted so far: our key and nonce, the direction keys.
    fn start(
        &mut self,
        version: Version,
        peer: &crate::keys::PublicKey,
        na: &[u8; NONCE_BYTES],
        keys: &mut impl KeySource,
        out: &mut impl Sink,
    ) -> Reply {
        let agreed = keys.own_public_key().and_then(|own| {
            let nb = keys.nonce()?;
            let z = keys.shared_secret(&own, peer)?;
            Ok((own, nb, z))
        });
        let Ok((own, nb, z)) = agreed else {
            return Reply::Refused {
                code: codes::TEMPORARY_FAILURE,
            };
        };
        self.state = State::AwaitOk {
            version,
            keys: derive(z.as_bytes(), na, &nb),
        };
        out.event(Event::Negotiated(version));
        Reply::Accept {
            key: own,
            nonce: nb,
        }
    }

    /// A whole reply line from the local server.
    fn reply_line(
        &mut self,
        line: Line,
        keys: &mut impl KeySource,
        out: &mut impl Sink,
    ) -> Result<(), SessionError> {
        let Some((code, last)) = reply_head(line.as_bytes()) else {
            self.send_peer(line.as_bytes(), out);
            return Ok(());
        };
        if self.pending.front() == Some(Kind::Ehlo) && code == codes::OK {
            let offering = self.offering();
            let ciphers = &mut self.state;
            let hide = self.hide;
            let rw = self.ehlo.get_or_insert_with(|| EhloRewrite::new(hide));
            let mut emit = |b: &[u8]| relay::to_peer(ciphers.ciphers(), b, out);
            rw.line(line, &mut emit);
            if last {
                let end = self.ehlo.take().and_then(EhloRewrite::finish);
                match end {
                    Some(h) if offering => emit(h.with_separator(b'-').as_bytes()),
                    Some(h) => emit(h.as_bytes()),
                    None => {}
                }
                if offering {
                    emit(offer_line(&self.offer, true).as_bytes());
                }
            }
        } else {
            self.send_peer(line.as_bytes(), out);
        }
        if last {
            self.reply_done(code, keys, out)?;
        }
        Ok(())
    }

    /// The first 512 octets of an over-long reply line from the local server.
    fn long_reply_head(&mut self, head: Line, out: &mut impl Sink) {
        let Some((code, last)) = reply_head(head.as_bytes()) else {
            self.send_peer(head.as_bytes(), out);
            return;
        };
        let mut offer_after = false;
        let mut head = head;
        if self.pending.front() == Some(Kind::Ehlo) && code == codes::OK {
            let ciphers = &mut self.state;
            let hide = self.hide;
            let rw = self.ehlo.get_or_insert_with(|| EhloRewrite::new(hide));
            rw.flush(&mut |b: &[u8]| relay::to_peer(ciphers.ciphers(), b, out));
            if last {
                self.ehlo = None;
                if self.offering() {
                    head = head.with_separator(b'-');
                    offer_after = true;
                }
            }
        }
        self.long_reply = Some(LongReply {
            code,
            last,
            offer_after,
        });
        self.send_peer(head.as_bytes(), out);
    }

    /// A reply from the local server is complete: what it means for the session.
    fn reply_done(
        &mut self,
        code: u16,
        keys: &mut impl KeySource,
        out: &mut impl Sink,
    ) -> Result<(), SessionError> {
        let kind = self.pending.front();
        self.pending.pop();
        if let State::Plain(dialogue) = &mut self.state {
            dialogue.reply(kind, code);
        }
        // The peer is the SMTP client here.
        if relay::transfer_reply(kind, code, &mut self.peer_in, &mut self.local_in).is_some() {
            return self.resume(keys, out);
        }
        if self.pending.is_empty() && matches!(self.pause, Some(Pause::Xcrypt { .. })) {
            if let Some(Pause::Xcrypt(x)) = self.pause.take() {
                self.answer_xcrypt(x, keys, out);
            }
            // What came behind a waiting `XCRYPT FAIL` (or a broken XCRYPT line) was held.
            return self.read_held(keys, out);
        }
        Ok(())
    }

    /// The pause after DATA or STARTTLS is over: read what arrived meanwhile.
    fn resume(
        &mut self,
        keys: &mut impl KeySource,
        out: &mut impl Sink,
    ) -> Result<(), SessionError> {
        if !matches!(self.pause, Some(Pause::Reply)) {
            return Ok(());
        }
        self.pause = None;
        self.read_held(keys, out)
    }

    /// Reads the bytes held during a pause that is over.
    fn read_held(
        &mut self,
        keys: &mut impl KeySource,
        out: &mut impl Sink,
    ) -> Result<(), SessionError> {
        let held = core::mem::replace(&mut self.held, Line::new());
        self.peer_plain(held.as_bytes(), keys, out)
    }
}

/// Whether an XCRYPT line, parsed as `parsed`, is `XCRYPT <Va> ...` or `XCRYPT OK`: the
/// lines nothing may follow.
fn ends_input(parsed: &Result<Command, CommandError>, line: &[u8]) -> bool {
    match parsed {
        Ok(Command::Ok | Command::Start { .. }) => true,
        Ok(Command::Fail) => false,
        // A broken `XCRYPT <three words>` is still a start in intent.
        Err(_) => after_keyword(line)
            .is_some_and(|p| p.split(|&b| b == b' ').filter(|t| !t.is_empty()).count() >= 3),
    }
}

relay::peer_input!(Server);
