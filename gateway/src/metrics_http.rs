//! The metrics endpoint: an HTTP/1 responder on tokio that answers `GET /metrics` (and
//! `HEAD`) with the page of [`Metrics::encode`], 404 to any other path and 405 to any
//! other method, one request per connection. It is small on purpose: an HTTP framework
//! would bring more code than the one page needs, and the page's format comes from the
//! `prometheus-client` crate, not from here.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use crate::config::LogFormat;
use crate::error::Error;
use crate::log;
use crate::metrics::Metrics;

/// A request head larger than this is refused (a scraper's is a few hundred bytes).
const MAX_HEAD: usize = 8 * 1024;
/// A scrape must have sent its request and taken its answer within this time.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(10);
/// Scrapes answered at once at most; further connections are closed unanswered.
const MAX_SCRAPES: usize = 8;
/// The media type of the Prometheus text exposition format.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Binds the metrics endpoint on `addr` (a port in use is an error at start) and says
/// where on the log.
pub async fn bind(addr: &str, format: LogFormat) -> Result<TcpListener, Error> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| Error::Io(format!("metrics_listen {addr}: {e}")))?;
    let local = listener
        .local_addr()
        .map_or_else(|_| addr.to_owned(), |a| a.to_string());
    log::notice(format, &format!("metrics on http://{local}/metrics"));
    Ok(listener)
}

/// Answers scrapes on `listener` until the task is cancelled.
pub async fn serve(listener: TcpListener, metrics: Metrics) {
    let slots = Arc::new(Semaphore::new(MAX_SCRAPES));
    loop {
        let Ok((socket, _)) = listener.accept().await else {
            // Out of file descriptors and the like: wait a little rather than spin.
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            continue;
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let _ = tokio::time::timeout(SCRAPE_TIMEOUT, answer(socket, &metrics)).await;
            drop(slot);
        });
    }
}

/// Reads one request head and writes the answer.
async fn answer(mut socket: TcpStream, metrics: &Metrics) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && !head.windows(2).any(|w| w == b"\n\n") {
        let n = socket.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
        if head.len() > MAX_HEAD {
            return respond(
                &mut socket,
                "431 Request Header Fields Too Large",
                "",
                false,
            )
            .await;
        }
    }
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    match (method, path) {
        ("GET" | "HEAD", "/metrics") => {
            let page = metrics.encode();
            respond(&mut socket, "200 OK", &page, method == "HEAD").await
        }
        (_, "/metrics") => respond(&mut socket, "405 Method Not Allowed", "", false).await,
        _ => respond(&mut socket, "404 Not Found", "", false).await,
    }
}

async fn respond(
    socket: &mut TcpStream,
    status: &str,
    body: &str,
    head_only: bool,
) -> std::io::Result<()> {
    let header = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {CONTENT_TYPE}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    );
    socket.write_all(header.as_bytes()).await?;
    if !head_only {
        socket.write_all(body.as_bytes()).await?;
    }
    socket.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get(addr: std::net::SocketAddr, request: &[u8]) -> String {
        let mut s = TcpStream::connect(addr).await.expect("connect");
        s.write_all(request).await.expect("write");
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.expect("read");
        String::from_utf8(out).expect("utf-8")
    }

    #[tokio::test]
    async fn answers_metrics_and_nothing_else() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let metrics = Metrics::new();
        metrics.refused("max_sessions");
        let server = tokio::spawn(serve(listener, metrics));

        let page = get(addr, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").await;
        assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
        assert!(page.contains("Content-Type: text/plain; version=0.0.4"));
        let body = page.split_once("\r\n\r\n").map(|x| x.1).unwrap_or_default();
        let length: usize = page
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .and_then(|n| n.trim().parse().ok())
            .expect("length");
        assert_eq!(body.len(), length);
        assert!(body.contains("ssmail_gateway_refusals_total{reason=\"max_sessions\"} 1\n"));

        let head = get(addr, b"HEAD /metrics HTTP/1.0\r\n\r\n").await;
        assert!(head.starts_with("HTTP/1.1 200 OK") && head.ends_with("\r\n\r\n"));
        let other = get(addr, b"GET / HTTP/1.1\r\n\r\n").await;
        assert!(other.starts_with("HTTP/1.1 404"), "{other}");
        let post = get(addr, b"POST /metrics HTTP/1.1\r\n\r\n").await;
        assert!(post.starts_with("HTTP/1.1 405"), "{post}");
        server.abort();
    }
}
