//! The client side of the dialogue (docs/xcrypt.md §4), between a local SMTP client that
//! knows nothing of XCRYPT and the network (a server that may speak it).
//!
//! Commands pass from the local client to the peer, replies back. When the server's
//! EHLO reply offers XCRYPT, its keyword line is taken out, and the reply's last line is
//! held back while the exchange runs: the local client, waiting for that line, sends
//! nothing in between, so its next command is the first encrypted one.

use crate::kdf::{DirectionKeys, NONCE_BYTES, derive};
use crate::keys::PublicKey;
use crate::xcrypt::codes;
use crate::xcrypt::command::Command;
use crate::xcrypt::ehlo::EhloRewrite;
use crate::xcrypt::events::{Event, Fallback, SessionError, Sink};
use crate::xcrypt::framing::{Framer, Piece, is_quit};
use crate::xcrypt::key_source::KeySource;
use crate::xcrypt::line::Line;
use crate::xcrypt::pending::{Kind, Pending};
use crate::xcrypt::relay::{self, Ciphers};
use crate::xcrypt::reply::{Reply, ReplyError, reply_head};
use crate::xcrypt::version::{Offer, Version};

/// Where the exchange stands.
#[allow(
    clippy::large_enum_variant,
    reason = "no allocator to box with; the ciphers live in the state that has them"
)]
enum State {
    Plain,
    /// `XCRYPT <Va> <Ka> <Na>` sent.
    AwaitAccept {
        version: Version,
        own: PublicKey,
        nonce: [u8; NONCE_BYTES],
    },
    /// `XCRYPT OK` sent.
    AwaitOk {
        version: Version,
        keys: DirectionKeys,
    },
    /// `XCRYPT FAIL` sent, for this reason.
    AwaitFailAck(Fallback),
    /// Encrypted from here on, for the rest of the session.
    Active {
        version: Version,
        ciphers: Ciphers,
    },
}

/// A client-side XCRYPT session. No I/O, no allocation: feed it what arrives from the
/// local client ([`from_local`](Self::from_local)) and from the peer
/// ([`from_peer`](Self::from_peer)); it hands what to send on to a [`Sink`].
pub struct Client {
    supported: Offer,
    state: State,
    /// An exchange was tried in this session (it is not tried twice).
    tried: bool,
    /// The local client has sent a `QUIT` command line.
    quit_sent: bool,
    pending: Pending,
    peer_in: Framer,
    local_in: Framer,
    /// DATA or STARTTLS was sent: what the local client sends next depends on the reply.
    await_reply: bool,
    /// Bytes from the local client that arrived while it had to wait.
    held: Line,
    /// The EHLO reply being read.
    ehlo: Option<EhloRewrite>,
    /// The EHLO reply's last line, held back during the exchange.
    ehlo_last: Option<Line>,
    /// A continuation line came in the reply to our XCRYPT command.
    multiline: bool,
    /// Code and last-ness of the over-long reply line being read.
    long_reply: Option<(u16, bool)>,
}

impl core::fmt::Debug for Client {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Client")
            .field("supported", &self.supported)
            .field("encrypted", &self.version())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A session that accepts `versions` (the server's order of preference decides
    /// among them), before the server's greeting.
    pub fn new(versions: &[Version]) -> Self {
        Self {
            supported: Offer::new(versions),
            state: State::Plain,
            tried: false,
            quit_sent: false,
            pending: Pending::new(),
            peer_in: Framer::new(),
            local_in: Framer::new(),
            await_reply: false,
            held: Line::new(),
            ehlo: None,
            ehlo_last: None,
            multiline: false,
            long_reply: None,
        }
    }

    /// Whether the local client has sent a `QUIT` command line. Only command lines count
    /// (as the framer cuts them): a line reading `QUIT` inside a message body does not.
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

    /// Our public key while the server's reply to our `XCRYPT` is awaited: a caller that
    /// computes shared secrets off its own thread (the gateway's DH pool) can start on
    /// the key in that reply before feeding it.
    pub fn awaiting_key(&self) -> Option<PublicKey> {
        match self.state {
            State::AwaitAccept { own, .. } => Some(own),
            _ => None,
        }
    }

    /// Whether an exchange is under way (the local client's input waits).
    fn exchanging(&self) -> bool {
        matches!(
            self.state,
            State::AwaitAccept { .. } | State::AwaitOk { .. } | State::AwaitFailAck(_)
        )
    }

    /// Bytes from the local client (plaintext commands and mail).
    ///
    /// # Errors
    /// The local client sent more than a line while it had to wait for a reply, or
    /// pipelined too much; the caller should end the session.
    pub fn from_local(&mut self, input: &[u8], out: &mut impl Sink) -> Result<(), SessionError> {
        let mut rest = input;
        loop {
            if self.await_reply || self.exchanging() {
                return relay::hold(&mut self.held, rest);
            }
            let Some(piece) = self.local_in.next(&mut rest) else {
                return Ok(());
            };
            match piece {
                Piece::Raw(b, body_end) => {
                    self.send_peer(b, out);
                    if body_end {
                        self.pending.push(Kind::BodyEnd)?;
                    }
                }
                Piece::Line(line) => {
                    let kind = self.local_in.command(line.as_bytes());
                    self.pending.push(kind)?;
                    self.quit_sent |= is_quit(line.as_bytes());
                    self.await_reply = matches!(kind, Kind::Data | Kind::StartTls);
                    self.send_peer(line.as_bytes(), out);
                }
                Piece::LongHead(head) => self.send_peer(head.as_bytes(), out),
                Piece::LongTail(tail, ends) => {
                    self.send_peer(tail, out);
                    if ends {
                        self.pending.push(Kind::Other)?;
                    }
                }
            }
        }
    }

    /// Bytes that arrived from the peer (ciphertext once encryption is on).
    ///
    /// # Errors
    /// As [`from_local`](Self::from_local), for held local input that runs on here.
    pub fn from_peer(
        &mut self,
        input: &[u8],
        keys: &mut impl KeySource,
        out: &mut impl Sink,
    ) -> Result<(), SessionError> {
        relay::from_peer(self, input, keys, out)
    }

    fn send_peer(&mut self, bytes: &[u8], out: &mut impl Sink) {
        relay::to_peer(self.state.ciphers(), bytes, out);
    }

    fn peer_plain(
        &mut self,
        input: &[u8],
        keys: &mut impl KeySource,
        out: &mut impl Sink,
    ) -> Result<(), SessionError> {
        let mut rest = input;
        while let Some(piece) = self.peer_in.next(&mut rest) {
            match piece {
                Piece::Raw(b, _) => out.to_local(b),
                Piece::Line(line) => self.reply_line(line, &mut rest, keys, out)?,
                Piece::LongHead(head) => {
                    let head_info = reply_head(head.as_bytes());
                    self.long_reply = head_info;
                    if self.exchanging() {
                        continue;
                    }
                    if self.pending.front() == Some(Kind::Ehlo) && head_info.is_some() {
                        self.ehlo
                            .get_or_insert_with(|| EhloRewrite::new(&[]))
                            .flush(&mut |b: &[u8]| out.to_local(b));
                        if head_info.is_some_and(|(_, last)| last) {
                            // No last line to hold back: nothing to start XCRYPT with.
                            self.ehlo = None;
                            self.tried = true;
                        }
                    }
                    out.to_local(head.as_bytes());
                }
                Piece::LongTail(tail, ends) => {
                    let exchanging = self.exchanging();
                    if !exchanging {
                        out.to_local(tail);
                    }
                    if !ends {
                        continue;
                    }
                    match self.long_reply.take() {
                        Some((code, true)) if exchanging => {
                            // No XCRYPT reply is that long.
                            self.multiline = false;
                            self.exchange_reply(None, Some(code), &mut rest, keys, out)?;
                        }
                        Some((code, true)) => self.reply_done(code, out)?,
                        _ => {}
                    }
                }
            }
        }
        Ok(())
    }

    /// A whole reply line from the peer.
    fn reply_line(
        &mut self,
        line: Line,
        rest: &mut &[u8],
        keys: &mut impl KeySource,
        out: &mut impl Sink,
    ) -> Result<(), SessionError> {
        let head = reply_head(line.as_bytes());
        if self.exchanging() {
            match head {
                Some((_, false)) => self.multiline = true,
                _ => {
                    let multi = core::mem::take(&mut self.multiline);
                    let code = head.map(|(c, _)| c);
                    let line = (!multi).then_some(line);
                    self.exchange_reply(line.as_ref(), code, rest, keys, out)?;
                }
            }
            return Ok(());
        }
        let Some((code, last)) = head else {
            out.to_local(line.as_bytes());
            return Ok(());
        };
        if self.pending.front() == Some(Kind::Ehlo) && code == codes::OK {
            let rw = self.ehlo.get_or_insert_with(|| EhloRewrite::new(&[]));
            rw.line(line, &mut |b: &[u8]| out.to_local(b));
            if last {
                let rw = self.ehlo.take().unwrap_or_else(|| EhloRewrite::new(&[]));
                let offer = rw.offer();
                let end = rw.finish();
                self.pending.pop();
                self.ehlo_done(offer, end, keys, out)?;
            }
            return Ok(());
        }
        out.to_local(line.as_bytes());
        if last {
            self.reply_done(code, out)?;
        }
        Ok(())
    }

    /// A reply other than to EHLO is complete.
    fn reply_done(&mut self, code: u16, out: &mut impl Sink) -> Result<(), SessionError> {
        let kind = self.pending.front();
        self.pending.pop();
        // The local client is the SMTP client here.
        match relay::transfer_reply(kind, code, &mut self.local_in, &mut self.peer_in) {
            None => Ok(()),
            Some(tls) => {
                // Never XCRYPT inside TLS: this layer can no longer read the dialogue.
                self.tried |= tls;
                self.resume(out)
            }
        }
    }

    /// The local client's wait is over: send what it sent meanwhile.
    fn resume(&mut self, out: &mut impl Sink) -> Result<(), SessionError> {
        self.await_reply = false;
        if self.exchanging() {
            return Ok(());
        }
        let held = core::mem::replace(&mut self.held, Line::new());
        self.from_local(held.as_bytes(), out)
    }

    /// The server's 250 EHLO reply is complete (its last line, rewritten, is `end`):
    /// start the exchange, or hand the line on and go on in plaintext.
    fn ehlo_done(
        &mut self,
        offer: Option<Offer>,
        end: Option<Line>,
        keys: &mut impl KeySource,
        out: &mut impl Sink,
    ) -> Result<(), SessionError> {
        if let Some(o) = offer {
            out.event(Event::Offered(o));
        }
        self.ehlo_last = end;
        if matches!(self.state, State::Active { .. }) || self.tried {
            return self.release(out);
        }
        let Some(offer) = offer else {
            out.event(Event::Plaintext(Fallback::NotOffered));
            return self.release(out);
        };
        let Some(version) = offer.iter().find(|&v| self.supported.contains(v)) else {
            out.event(Event::Plaintext(Fallback::NoCommonVersion));
            return self.release(out);
        };
        self.tried = true;
        if self.ehlo_last.is_none() {
            out.event(Event::Plaintext(Fallback::BadReply));
            return self.release(out);
        }
        if !self.pending.is_empty() || self.await_reply || self.local_in.mid_line() {
            out.event(Event::Plaintext(Fallback::Pipelined));
            return self.release(out);
        }
        let started = keys
            .own_public_key()
            .and_then(|own| Ok((own, keys.nonce()?)));
        let Ok((own, nonce)) = started else {
            out.event(Event::Plaintext(Fallback::LocalFailure));
            return self.release(out);
        };
        let cmd = Command::Start {
            version,
            key: own,
            nonce,
        };
        self.send_peer(cmd.write().as_bytes(), out);
        self.state = State::AwaitAccept {
            version,
            own,
            nonce,
        };
        Ok(())
    }

    /// The reply to one of our XCRYPT commands (`None`: one that cannot be read as one,
    /// such as a multi-line or over-long reply).
    fn exchange_reply(
        &mut self,
        line: Option<&Line>,
        code: Option<u16>,
        rest: &mut &[u8],
        keys: &mut impl KeySource,
        out: &mut impl Sink,
    ) -> Result<(), SessionError> {
        let parsed = line.map_or(Err(ReplyError::Malformed), |l| Reply::parse(l.as_bytes()));
        let positive = code.is_some_and(codes::is_positive);
        // The state's small fields are copied out rather than the whole `State` moved
        // out with `mem::replace`: that move put a copy of the state, ciphers' room
        // included, in this frame (firmware/README.md, stack findings).
        match &self.state {
            State::AwaitAccept {
                version,
                own,
                nonce,
            } => {
                let (version, own, nonce) = (*version, *own, *nonce);
                self.state = State::Plain;
                match parsed {
                    Ok(Reply::Accept { key, nonce: nb }) => match keys.shared_secret(&own, &key) {
                        Ok(z) => {
                            let dk = derive(z.as_bytes(), &nonce, &nb);
                            self.send_peer(Command::Ok.write().as_bytes(), out);
                            self.state = State::AwaitOk { version, keys: dk };
                            out.event(Event::Negotiated(version));
                            Ok(())
                        }
                        Err(_) => self.fail(Fallback::LocalFailure, out),
                    },
                    Err(ReplyError::BadKey | ReplyError::BadNonce) => {
                        self.fail(Fallback::BadServerKey, out)
                    }
                    Ok(Reply::Refused { code }) => self.fall_back(Fallback::Refused { code }, out),
                    Ok(Reply::BadSequence) => self.fall_back(
                        Fallback::Refused {
                            code: codes::BAD_SEQUENCE,
                        },
                        out,
                    ),
                    Ok(Reply::Unknown { code }) => {
                        self.fall_back(Fallback::NotSupported { code }, out)
                    }
                    // A positive reply we cannot use may have left the server waiting for
                    // `XCRYPT OK`: tell it no.
                    _ if positive => self.fail(Fallback::BadReply, out),
                    _ => self.fall_back(Fallback::BadReply, out),
                }
            }
            State::AwaitOk { version, keys: dk } => {
                let (version, dk) = (*version, dk.clone());
                self.state = State::Plain;
                if parsed != Ok(Reply::Ok) {
                    return self.fall_back(Fallback::BadReply, out);
                }
                // The switch point: anything behind `250 XCRYPT OK` is dropped unread.
                if !rest.is_empty() {
                    out.event(Event::Discarded { bytes: rest.len() });
                    *rest = &[];
                }
                self.activate(version, &dk);
                out.event(Event::EncryptionOn(version));
                self.release(out)
            }
            State::AwaitFailAck(why) => {
                let why = *why;
                self.fall_back(why, out)
            }
            // Not exchanging: not reached (callers check), and harmless.
            State::Plain | State::Active { .. } => Ok(()),
        }
    }

    /// Encryption on. Not inlined: the ciphers are built in a temporary before they move
    /// into the state, and in a frame of its own that temporary is on the stack only
    /// while this runs, not for as long as the dialogue code that calls it.
    #[inline(never)]
    fn activate(&mut self, version: Version, dk: &DirectionKeys) {
        self.state = State::Active {
            version,
            ciphers: Ciphers::new(version, &dk.client_to_server, &dk.server_to_client),
        };
    }

    /// Sends `XCRYPT FAIL` and waits for the server's answer.
    fn fail(&mut self, why: Fallback, out: &mut impl Sink) -> Result<(), SessionError> {
        self.send_peer(Command::Fail.write().as_bytes(), out);
        self.state = State::AwaitFailAck(why);
        Ok(())
    }

    /// Plaintext from here on.
    fn fall_back(&mut self, why: Fallback, out: &mut impl Sink) -> Result<(), SessionError> {
        self.state = State::Plain;
        out.event(Event::Plaintext(why));
        self.release(out)
    }

    /// Hands on the EHLO reply's held-back last line, and what the local client sent
    /// meanwhile.
    fn release(&mut self, out: &mut impl Sink) -> Result<(), SessionError> {
        if let Some(line) = self.ehlo_last.take() {
            out.to_local(line.as_bytes());
        }
        self.resume(out)
    }
}

relay::peer_input!(Client);
