//! systemd's readiness messages (the `sd_notify` protocol of systemd's `Type=notify`
//! services): `READY=1` once every listener is bound, so that units ordered after the
//! gateway start only when it accepts mail, and `STOPPING=1` at a shutdown signal. Each
//! is one datagram to the socket named by `$NOTIFY_SOCKET` (a path, or `@name` in the
//! abstract namespace); without the variable (not under systemd, or `Type=simple`)
//! nothing is sent. A failed send is ignored: readiness must never stop mail.

use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::net::UnixDatagram;

/// Tells systemd the gateway is serving.
pub fn ready() {
    send("READY=1");
}

/// Tells systemd the gateway is shutting down.
pub fn stopping() {
    send("STOPPING=1");
}

fn send(state: &str) {
    if let Some(socket) = std::env::var_os("NOTIFY_SOCKET") {
        let _ = send_to(&socket, state);
    }
}

/// Sends `state` to the notification socket `socket`.
fn send_to(socket: &OsStr, state: &str) -> io::Result<()> {
    let datagram = UnixDatagram::unbound()?;
    let name = socket.as_bytes();
    if let Some(abstract_name) = name.strip_prefix(b"@") {
        return send_abstract(&datagram, abstract_name, state);
    }
    datagram.send_to(state.as_bytes(), socket).map(drop)
}

#[cfg(target_os = "linux")]
fn send_abstract(datagram: &UnixDatagram, name: &[u8], state: &str) -> io::Result<()> {
    use std::os::linux::net::SocketAddrExt as _;
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
    datagram.send_to_addr(state.as_bytes(), &addr).map(drop)
}

#[cfg(not(target_os = "linux"))]
fn send_abstract(_: &UnixDatagram, _: &[u8], _: &str) -> io::Result<()> {
    Err(io::Error::other("abstract sockets are Linux only"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn received(listener: &UnixDatagram) -> String {
        listener
            .set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .expect("timeout");
        let mut buf = [0u8; 64];
        let n = listener.recv(&mut buf).expect("a datagram");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    #[test]
    fn ready_reaches_a_path_socket() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("notify");
        let listener = UnixDatagram::bind(&path).expect("bind");
        send_to(path.as_os_str(), "READY=1").expect("sent");
        assert_eq!(received(&listener), "READY=1");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn ready_reaches_an_abstract_socket() {
        use std::os::linux::net::SocketAddrExt as _;
        let name = format!("ssmail-notify-test-{}", std::process::id());
        let addr =
            std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).expect("name");
        let listener = UnixDatagram::bind_addr(&addr).expect("bind");
        send_to(OsStr::new(&format!("@{name}")), "STOPPING=1").expect("sent");
        assert_eq!(received(&listener), "STOPPING=1");
    }

    #[test]
    fn nowhere_to_send_is_an_error_not_a_panic() {
        assert!(send_to(OsStr::new("/nonexistent/notify"), "READY=1").is_err());
    }
}
