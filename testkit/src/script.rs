//! A scripted SMTP client without I/O (the mail submitter in front of a client-side
//! gateway): it sends each step (one command, or a pipelined group) once every reply to
//! the step before is in, and records the replies.

use std::collections::VecDeque;

use crate::reply::Replies;

/// A client that follows a script.
#[derive(Debug, Clone)]
pub struct Script {
    steps: Vec<(Vec<u8>, Vec<u16>)>,
    next: usize,
    /// Reply codes still expected for the step sent last (the greeting first).
    expect: VecDeque<u16>,
    reader: Replies,
    /// Whole replies received, in order, as they came.
    pub replies: Vec<String>,
    /// Replies whose code differed from the script's, and malformed reply lines.
    pub unexpected: Vec<String>,
}

impl Script {
    /// The usual session: greeting, EHLO, one message (`body`, sent as it is: already
    /// dot-stuffed), QUIT.
    pub fn one_message(body: &[u8]) -> Self {
        let mut data = body.to_vec();
        data.extend_from_slice(b".\r\n");
        Self::new(vec![
            (b"EHLO client.test\r\n".to_vec(), 250),
            (b"MAIL FROM:<alice@client.test>\r\n".to_vec(), 250),
            (b"RCPT TO:<bob@mx.test>\r\n".to_vec(), 250),
            (b"DATA\r\n".to_vec(), 354),
            (data, 250),
            (b"QUIT\r\n".to_vec(), 221),
        ])
    }

    /// One command per step, each with its expected reply code.
    pub fn new(steps: Vec<(Vec<u8>, u16)>) -> Self {
        Self::groups(steps.into_iter().map(|(b, c)| (b, vec![c])).collect())
    }

    /// Steps of pipelined groups, each with the reply codes it expects.
    pub fn groups(steps: Vec<(Vec<u8>, Vec<u16>)>) -> Self {
        Self {
            steps,
            next: 0,
            expect: [220].into(),
            reader: Replies::new(),
            replies: Vec::new(),
            unexpected: Vec::new(),
        }
    }

    /// Whether every step was sent and every reply it expects came.
    pub fn done(&self) -> bool {
        self.next == self.steps.len() && self.expect.is_empty()
    }

    /// What to send now, if anything.
    pub fn poll(&mut self) -> Option<Vec<u8>> {
        if !self.expect.is_empty() || self.next == self.steps.len() {
            return None;
        }
        let (bytes, codes) = self.steps[self.next].clone();
        self.next += 1;
        self.expect = codes.into();
        Some(bytes)
    }

    /// Reads the server's bytes.
    pub fn feed(&mut self, bytes: &[u8]) {
        for reply in self.reader.feed(bytes) {
            match reply {
                Ok(reply) => {
                    if self.expect.pop_front() != Some(reply.code) {
                        self.unexpected.push(reply.raw.clone());
                    }
                    self.replies.push(reply.raw);
                }
                Err(e) => self.unexpected.push(e),
            }
        }
    }
}
