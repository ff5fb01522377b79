//! Raw mode: the bare keystream XORed over stdin, written to stdout.
//!
//! Memory stays constant whatever the input size: one fixed buffer is read into, XORed
//! in place and written out before the next read.

use std::io::{self, ErrorKind, Read, Write};

use crate::failure::Failure;
use crate::keystream::AnyCipher;

/// Bytes read per chunk: large enough that the syscalls cost little next to the cipher,
/// small enough to stay in L2 cache.
pub const CHUNK: usize = 64 * 1024;

/// XORs all of stdin with the keystream onto stdout.
pub fn xor_stdin_to_stdout(keystream: &mut AnyCipher) -> Result<(), Failure> {
    let stdin = io::stdin();
    let stdout = io::stdout();
    xor_stream(keystream, &mut stdin.lock(), &mut stdout.lock())
}

/// XORs all of `input` with the keystream onto `output`, flushing `output` after every
/// chunk so that nothing waits in a buffer for more input.
pub fn xor_stream(
    keystream: &mut AnyCipher,
    input: &mut impl Read,
    output: &mut impl Write,
) -> Result<(), Failure> {
    // On the heap: 64 KiB is too much to put on a stack we do not control.
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            // A signal arrived before any data: nothing was read, so just ask again.
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(Failure::Io(format!("reading stdin: {e}"))),
        };
        // Only the `n` bytes actually read take keystream: a short read must not skip
        // any, or everything after it would decrypt to garbage.
        // `get_mut` because `Read` implementations are not trusted to keep `n` in bounds.
        let data = buf
            .get_mut(..n)
            .ok_or_else(|| Failure::Io("reading stdin: read more than the buffer".into()))?;
        keystream
            .try_apply_keystream(data)
            .map_err(|_| Failure::Io("the cipher's keystream ran out".into()))?;
        // `write_all` retries on `Interrupted` and on partial writes. The flush is because
        // Rust's stdout is line-buffered: without it, whatever follows the chunk's last
        // 0x0a byte would wait for the next chunk, so a live stream (a reply someone is
        // waiting for) could stall until more input or EOF came.
        output.write_all(data).map_err(write_failure)?;
        output.flush().map_err(write_failure)?;
    }
    // Also for empty input, where the loop flushed nothing.
    output.flush().map_err(write_failure)
}

fn write_failure(e: io::Error) -> Failure {
    if e.kind() == ErrorKind::BrokenPipe {
        Failure::BrokenPipe
    } else {
        Failure::Io(format!("writing stdout: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::io::{self, ErrorKind, Read, Write};
    use std::rc::Rc;

    use super::{CHUNK, xor_stream};
    use crate::failure::Failure;
    use crate::keystream::{Algorithm, keyed};

    const KEY: [u8; 10] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

    /// Gives out its data in odd-sized pieces, with `Interrupted` errors in between.
    struct Trickle<'a> {
        data: &'a [u8],
        sizes: std::iter::Cycle<std::slice::Iter<'static, usize>>,
        interrupt_next: bool,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.interrupt_next = !self.interrupt_next;
            if self.interrupt_next {
                return Err(ErrorKind::Interrupted.into());
            }
            let want = self.sizes.next().copied().unwrap_or(1);
            let n = want.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    /// Takes at most 5 bytes per write and sometimes reports `Interrupted`.
    #[derive(Default)]
    struct Choke {
        out: Vec<u8>,
        calls: usize,
    }

    impl Write for Choke {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.calls += 1;
            if self.calls & 3 == 0 {
                return Err(ErrorKind::Interrupted.into());
            }
            let n = buf.len().min(5);
            self.out.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn one_shot(cipher: Algorithm, data: &[u8]) -> Vec<u8> {
        let mut out = data.to_vec();
        let mut ks = keyed(cipher, &KEY).expect("valid key");
        ks.try_apply_keystream(&mut out)
            .expect("keystream does not run out");
        out
    }

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i.wrapping_mul(131) >> 3) as u8).collect()
    }

    #[test]
    fn short_reads_and_writes_give_the_one_shot_result() {
        static SIZES: [usize; 6] = [1, 3, 7, 4093, 2, CHUNK + 5];
        let data = pattern(3 * CHUNK + 11);
        for cipher in [Algorithm::Arrsyfor, Algorithm::T32] {
            let mut input = Trickle {
                data: &data,
                sizes: SIZES.iter().cycle(),
                interrupt_next: false,
            };
            let mut output = Choke::default();
            let mut ks = keyed(cipher, &KEY).expect("valid key");
            let result = xor_stream(&mut ks, &mut input, &mut output);
            assert!(result.is_ok(), "{result:?}");
            assert_eq!(output.out, one_shot(cipher, &data), "{cipher:?}");
        }
    }

    /// Holds written bytes back until flushed, as Rust's line-buffered stdout can.
    struct Held {
        pending: Vec<u8>,
        flushed: Rc<RefCell<Vec<u8>>>,
    }

    impl Write for Held {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.pending.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            self.flushed.borrow_mut().append(&mut self.pending);
            Ok(())
        }
    }

    /// Checks, whenever it is asked for more, that everything it gave out has been
    /// flushed: a stream must not stall waiting for input that may be slow to come.
    struct Watching {
        data: Vec<u8>,
        given: usize,
        flushed: Rc<RefCell<Vec<u8>>>,
    }

    impl Read for Watching {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            assert_eq!(self.flushed.borrow().len(), self.given, "output held back");
            let n = buf.len().min(self.data.len() - self.given).min(1000);
            buf[..n].copy_from_slice(&self.data[self.given..self.given + n]);
            self.given += n;
            Ok(n)
        }
    }

    #[test]
    fn every_chunk_is_flushed_before_the_next_read() {
        let flushed = Rc::new(RefCell::new(Vec::new()));
        let data = pattern(10_000);
        let mut input = Watching {
            data: data.clone(),
            given: 0,
            flushed: Rc::clone(&flushed),
        };
        let mut output = Held {
            pending: Vec::new(),
            flushed: Rc::clone(&flushed),
        };
        let mut ks = keyed(Algorithm::T32, &KEY).expect("valid key");
        let result = xor_stream(&mut ks, &mut input, &mut output);
        assert!(result.is_ok(), "{result:?}");
        assert_eq!(*flushed.borrow(), one_shot(Algorithm::T32, &data));
    }

    struct Fails(ErrorKind);

    impl Read for Fails {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(self.0.into())
        }
    }

    impl Write for Fails {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(self.0.into())
        }
        fn flush(&mut self) -> io::Result<()> {
            Err(self.0.into())
        }
    }

    #[test]
    fn errors_map_to_failures() {
        let mut ks = keyed(Algorithm::T32, &KEY).expect("valid key");
        let data = pattern(10);

        let r = xor_stream(&mut ks, &mut &data[..], &mut Fails(ErrorKind::BrokenPipe));
        assert!(matches!(r, Err(Failure::BrokenPipe)), "{r:?}");

        let r = xor_stream(
            &mut ks,
            &mut &data[..],
            &mut Fails(ErrorKind::PermissionDenied),
        );
        assert!(
            matches!(&r, Err(Failure::Io(m)) if m.starts_with("writing stdout: ")),
            "{r:?}"
        );

        let r = xor_stream(&mut ks, &mut Fails(ErrorKind::InvalidData), &mut Vec::new());
        assert!(
            matches!(&r, Err(Failure::Io(m)) if m.starts_with("reading stdin: ")),
            "{r:?}"
        );

        // Empty input still flushes, and a flush failure is reported.
        let r = xor_stream(&mut ks, &mut io::empty(), &mut Fails(ErrorKind::BrokenPipe));
        assert!(matches!(r, Err(Failure::BrokenPipe)), "{r:?}");
    }
}
