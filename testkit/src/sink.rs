//! The test SMTP server ([`Mta`]) on a TCP port of 127.0.0.1, a thread per connection:
//! the MTA behind a gateway under test, storing what it is given byte for byte.

use std::io::{Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use crate::mta::{Mta, Stored, Style};

/// A receiving SMTP server on a free port.
pub struct Sink {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Messages stored, in order, over all connections.
    pub messages: Arc<Mutex<Vec<Stored>>>,
    /// Every command line received (line end stripped), over all connections.
    pub commands: Arc<Mutex<Vec<String>>>,
    /// Connections that ended (EOF, reset, QUIT or `die_after`), counted.
    pub closed: Arc<Mutex<usize>>,
}

impl Sink {
    /// A sink of the usual style ([`Style::default`]).
    pub fn start() -> Self {
        Self::with(Style::default())
    }

    /// A sink that behaves as `style` says.
    pub fn with(style: Style) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let sink = Self {
            addr,
            messages: Arc::default(),
            commands: Arc::default(),
            closed: Arc::default(),
        };
        let (messages, commands, closed) = (
            Arc::clone(&sink.messages),
            Arc::clone(&sink.commands),
            Arc::clone(&sink.closed),
        );
        thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let (m, c, d, s) = (
                    Arc::clone(&messages),
                    Arc::clone(&commands),
                    Arc::clone(&closed),
                    style.clone(),
                );
                thread::spawn(move || {
                    let _ = serve(conn, s, &m, &c);
                    *lock(&d) += 1;
                });
            }
        });
        sink
    }

    /// The messages stored so far.
    pub fn stored(&self) -> Vec<Stored> {
        lock(&self.messages).clone()
    }

    /// The command lines received so far.
    pub fn commands(&self) -> Vec<String> {
        lock(&self.commands).clone()
    }

    /// Waits until `n` messages are stored (or panics after `secs`).
    pub fn wait_for(&self, n: usize, secs: u64) -> Vec<Stored> {
        let end = Instant::now() + Duration::from_secs(secs);
        loop {
            let got = self.stored();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < end,
                "only {} of {n} messages arrived",
                got.len()
            );
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits until `n` connections have ended (or panics after `secs`).
    pub fn wait_closed(&self, n: usize, secs: u64) {
        let end = Instant::now() + Duration::from_secs(secs);
        while *lock(&self.closed) < n {
            assert!(Instant::now() < end, "connections did not end");
            thread::sleep(Duration::from_millis(10));
        }
    }
}

/// A lock that a panicked test thread did not take with it.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn serve(
    mut conn: TcpStream,
    style: Style,
    messages: &Mutex<Vec<Stored>>,
    commands: &Mutex<Vec<String>>,
) -> std::io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    if style.silent {
        // Read and ignore until the other side gives up.
        while conn.read(&mut buf)? > 0 {}
        return Ok(());
    }
    let mut mta = Mta::new(style);
    conn.write_all(&mta.greeting())?;
    loop {
        let n = conn.read(&mut buf)?;
        if n == 0 {
            // A message cut off mid-way was never stored.
            return Ok(());
        }
        let replies = mta.feed(&buf[..n]);
        lock(commands).append(&mut mta.commands);
        lock(messages).append(&mut mta.messages);
        conn.write_all(&replies)?;
        if mta.closed() {
            return conn.shutdown(Shutdown::Both);
        }
    }
}
