//! The framer against the byte-at-a-time scans it had before `BodyScan::scan` and the
//! `memchr` line search: same pieces, same boundaries, however the stream is cut up.

use std::vec;
use std::vec::Vec;

use proptest::prelude::*;
use proptest::sample::Index;

use super::{BodyScan, Framer, Mode, Piece};
use crate::xcrypt::line::{LINE_MAX, Line};
use crate::xcrypt::pending::Kind;

/// The old scan for the end of a DATA body: every byte through `step`.
fn scan_bytewise(mut dot: BodyScan, input: &[u8]) -> (BodyScan, Option<usize>) {
    for (i, &b) in input.iter().enumerate() {
        let (next, ended) = dot.step(b);
        dot = next;
        if ended {
            return (dot, Some(i + 1));
        }
    }
    (dot, None)
}

/// The old `Framer::next`, kept as it was (but for `self`): line ends found byte by
/// byte, bodies scanned by `scan_bytewise`.
fn next_bytewise<'a>(f: &mut Framer, input: &mut &'a [u8]) -> Option<Piece<'a>> {
    if input.is_empty() {
        return None;
    }
    match f.mode {
        Mode::Lines if f.long => {
            let (part, ends) = match input.iter().position(|&b| b == b'\n') {
                Some(i) => (&input[..=i], true),
                None => (*input, false),
            };
            *input = &input[part.len()..];
            f.long = !ends;
            Some(Piece::LongTail(part, ends))
        }
        Mode::Lines => {
            let room = LINE_MAX - f.buf.as_bytes().len();
            let window = &input[..room.min(input.len())];
            if let Some(i) = window.iter().position(|&b| b == b'\n') {
                f.buf.push(&input[..=i]);
                *input = &input[i + 1..];
                return Some(Piece::Line(core::mem::replace(&mut f.buf, Line::new())));
            }
            f.buf.push(window);
            *input = &input[window.len()..];
            if f.buf.as_bytes().len() == LINE_MAX {
                f.long = true;
                return Some(Piece::LongHead(core::mem::replace(&mut f.buf, Line::new())));
            }
            None
        }
        Mode::Data(dot) => {
            let (dot, end) = scan_bytewise(dot, input);
            let n = end.unwrap_or(input.len());
            let part = &input[..n];
            *input = &input[n..];
            f.mode = if end.is_some() {
                Mode::Lines
            } else {
                Mode::Data(dot)
            };
            Some(Piece::Raw(part, end.is_some()))
        }
        // Neither counted chunks nor opaque bytes were scanned: `Framer::next` as is.
        Mode::Chunk(_) | Mode::Opaque => f.next(input),
    }
}

/// `bytes` cut at `cuts` (in any order, repeats allowed).
fn cut<'a>(bytes: &'a [u8], cuts: &[Index]) -> Vec<&'a [u8]> {
    let mut at: Vec<usize> = cuts.iter().map(|c| c.index(bytes.len() + 1)).collect();
    at.push(0);
    at.push(bytes.len());
    at.sort_unstable();
    at.windows(2).map(|w| &bytes[w[0]..w[1]]).collect()
}

/// A piece as plain data: which kind, its bytes, its flag.
type Owned = (u8, Vec<u8>, bool);

fn own(piece: &Piece<'_>) -> Owned {
    match piece {
        Piece::Line(l) => (0, l.as_bytes().to_vec(), false),
        Piece::LongHead(l) => (1, l.as_bytes().to_vec(), false),
        Piece::LongTail(b, ends) => (2, b.to_vec(), *ends),
        Piece::Raw(b, end) => (3, b.to_vec(), *end),
    }
}

/// The framer of one direction of a session, as the state machines drive it: a DATA
/// line is followed by its body, BDAT by its chunk, STARTTLS by opaque bytes. The stream
/// arrives in `parts`.
fn frame(
    parts: &[&[u8]],
    next: for<'a> fn(&mut Framer, &mut &'a [u8]) -> Option<Piece<'a>>,
) -> Vec<Owned> {
    let mut f = Framer::new();
    let mut pieces = Vec::new();
    for &part in parts {
        let mut input = part;
        while let Some(piece) = next(&mut f, &mut input) {
            if let Piece::Line(line) = &piece {
                match f.command(line.as_bytes()) {
                    Kind::Data => f.set_mode(Mode::Data(BodyScan::LineStart)),
                    Kind::StartTls => f.set_mode(Mode::Opaque),
                    _ => {}
                }
            }
            pieces.push(own(&piece));
        }
    }
    pieces
}

/// What streams are made of: the bytes that make up a body's end, alone and together,
/// the commands that change what follows, and a line too long to hold.
const TOKENS: &[&[u8]] = &[
    b"\r",
    b"\n",
    b"\r\n",
    b".",
    b"..",
    b"a",
    b" ",
    b"\r\n.\r\n",
    b"\n.\r\n",
    b".\r\n",
    b"\r\n.",
    b"DATA\r\n",
    b"DATA\r\n",
    b"BDAT 7\r\n",
    b"BDAT 3 LAST\r\n",
    b"BDAT 0\r\n",
];

fn stream() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        40 => (0..TOKENS.len()).prop_map(|i| TOKENS[i].to_vec()),
        1 => Just(vec![b'x'; LINE_MAX + 100]),
        1 => Just(b"STARTTLS\r\n".to_vec()),
    ];
    proptest::collection::vec(token, 0..200).prop_map(|t| t.concat())
}

fn any_scan() -> impl Strategy<Value = BodyScan> {
    prop_oneof![
        Just(BodyScan::LineStart),
        Just(BodyScan::Dot),
        Just(BodyScan::DotCr),
        Just(BodyScan::Mid),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// From any state, over bytes rich in CR, LF and dots cut anywhere, the scan stops
    /// where the byte-at-a-time one does and leaves the same state.
    #[test]
    fn scan_is_the_bytewise_scan(
        start in any_scan(),
        bytes in proptest::collection::vec(
            prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'.'), Just(b'a')], 0..300),
        cuts in proptest::collection::vec(any::<Index>(), 0..8),
    ) {
        let mut dot = start;
        for mut piece in cut(&bytes, &cuts) {
            loop {
                let got = dot.scan(piece);
                prop_assert_eq!(got, scan_bytewise(dot, piece));
                dot = got.0;
                match got.1 {
                    // Scan on behind an end, as if another body followed.
                    Some(n) if n < piece.len() => piece = &piece[n..],
                    _ => break,
                }
            }
        }
    }

    /// Whole streams of lines, bodies, chunks and opaque bytes, cut anywhere, come out
    /// in the same pieces as from the old framer.
    #[test]
    fn framer_is_the_bytewise_framer(
        stream in stream(),
        cuts in proptest::collection::vec(any::<Index>(), 0..12),
    ) {
        let parts = cut(&stream, &cuts);
        prop_assert_eq!(frame(&parts, Framer::next), frame(&parts, next_bytewise));
    }
}

/// A body's end cut into two at every place, behind every state a call can end in.
#[test]
fn a_body_end_cut_anywhere() {
    let leads: [&[u8]; 5] = [b"", b"\r\n", b"x", b"\r\n.", b"\r\n.\r"];
    for lead in leads {
        let stream = [lead, b"ab\r\n..\r\nc\r\n.\r\nQUIT\r\n"].concat();
        for at in 0..=stream.len() {
            let parts: [&[u8]; 3] = [b"DATA\r\n", &stream[..at], &stream[at..]];
            let pieces = frame(&parts, Framer::next);
            assert_eq!(
                pieces,
                frame(&parts, next_bytewise),
                "lead {lead:?}, cut at {at}"
            );
            let body: Vec<u8> = pieces
                .iter()
                .filter(|p| p.0 == 3)
                .flat_map(|p| p.1.clone())
                .collect();
            assert_eq!(body, [lead, b"ab\r\n..\r\nc\r\n.\r\n"].concat());
            assert_eq!(pieces.last(), Some(&(0, b"QUIT\r\n".to_vec(), false)));
        }
    }
}

#[test]
fn quit_is_the_bare_command_only() {
    for yes in [&b"QUIT\r\n"[..], b"quit\r\n", b"Quit\n"] {
        assert!(super::is_quit(yes), "{yes:?}");
    }
    for no in [
        &b"QUITE\r\n"[..],
        b"QUIT now\r\n",
        b"QUIT \r\n",
        b" QUIT\r\n",
        b"QUI\r\n",
        b"NOOP\r\n",
    ] {
        assert!(!super::is_quit(no), "{no:?}");
    }
}
