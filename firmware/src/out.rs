//! Output lines over semihosting (the host's standard output under QEMU), written a line
//! at a time from a fixed buffer: no allocator, and one host call per line.

use core::fmt::{self, Write};

use cortex_m_semihosting::hio;

/// Longest line: the `dh` line is 3 numbers of 192 digits.
const LINE_MAX: usize = 1024;

/// One output line being built. Text beyond 1,024 bytes is a bug in this program, so
/// it panics (which fails the run) rather than printing a cut line.
pub struct Line {
    buf: [u8; LINE_MAX],
    len: usize,
}

impl Line {
    /// A line starting with `word`.
    pub fn new(word: &str) -> Self {
        let mut line = Self {
            buf: [0; LINE_MAX],
            len: 0,
        };
        line.push(word.as_bytes());
        line
    }

    fn push(&mut self, bytes: &[u8]) {
        let end = self.len + bytes.len();
        assert!(end <= LINE_MAX, "output line too long");
        self.buf[self.len..end].copy_from_slice(bytes);
        self.len = end;
    }

    /// Appends a space and `bytes` in lowercase hex.
    pub fn hex(mut self, bytes: &[u8]) -> Self {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        self.push(b" ");
        for b in bytes {
            self.push(&[DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 15)]]);
        }
        self
    }

    /// Appends a space and `word`.
    pub fn word(mut self, word: &str) -> Self {
        self.push(b" ");
        self.push(word.as_bytes());
        self
    }

    /// Appends a space and `n` in decimal.
    pub fn num(mut self, n: u64) -> Self {
        let _ = write!(self, " {n}");
        self
    }

    /// Writes the line and its newline.
    pub fn print(mut self) {
        self.push(b"\n");
        write_all(&self.buf[..self.len]);
    }
}

impl Write for Line {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.push(s.as_bytes());
        Ok(())
    }
}

/// Writes to the host's standard output; a failure there ends the run as failed.
fn write_all(bytes: &[u8]) {
    let ok = hio::hstdout().and_then(|mut out| out.write_all(bytes));
    if ok.is_err() {
        crate::exit_failure();
    }
}

/// The panic's message, on its own line starting `panic` (which no checker accepts).
pub(crate) fn panic_message(info: &core::panic::PanicInfo) {
    if let Ok(mut out) = hio::hstdout() {
        let _ = writeln!(out, "panic: {info}");
    }
}

/// Where a fault happened.
pub(crate) fn fault_message(pc: u32) {
    if let Ok(mut out) = hio::hstdout() {
        let _ = writeln!(out, "hardfault at pc {pc:#010x}");
    }
}
