//! The `cargo fuzz` targets' bodies on stable: every input in `fuzz/corpus/{server,client}`
//! (the committed seeds, plus whatever a local fuzzing run added) is replayed through the
//! same driver, and must not panic. The seeds are whole sessions, so this also checks
//! that they still reach the encrypted states the fuzzers start from.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

#[path = "../../fuzz/fuzz_targets/drive.rs"]
#[allow(dead_code, reason = "shared with the fuzz targets")]
mod drive;

use ssmail_core::xcrypt::{Client, Server, StaticKeys, Version};

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = format!("{}/../fuzz/corpus/{target}", env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect()
}

#[test]
fn server_seeds() {
    let mut encrypted = 0;
    for (name, data) in corpus("server") {
        let key = drive::key();
        let mut rng = drive::Rng(1);
        let mut keys = StaticKeys::new(&key, &mut rng);
        let mut out = drive::Drain(0);
        let mut server = Server::new(&Version::ALL);
        for (from_local, bytes) in drive::steps(&data) {
            let r = if from_local {
                server.from_local(bytes, &mut keys, &mut out)
            } else {
                server.from_peer(bytes, &mut keys, &mut out)
            };
            if r.is_err() {
                break;
            }
        }
        if name.ends_with("seed-exchange") {
            assert!(
                server.version().is_some(),
                "{name} no longer reaches encryption"
            );
        }
        encrypted += usize::from(server.version().is_some());
    }
    assert!(encrypted >= 1);
}

#[test]
fn client_seeds() {
    let mut encrypted = 0;
    for (name, data) in corpus("client") {
        let key = drive::key();
        let mut rng = drive::Rng(2);
        let mut keys = StaticKeys::new(&key, &mut rng);
        let mut out = drive::Drain(0);
        let mut client = Client::new(&Version::ALL);
        for (from_local, bytes) in drive::steps(&data) {
            let r = if from_local {
                client.from_local(bytes, &mut out)
            } else {
                client.from_peer(bytes, &mut keys, &mut out)
            };
            if r.is_err() {
                break;
            }
        }
        if name.ends_with("seed-exchange") {
            assert!(
                client.version().is_some(),
                "{name} no longer reaches encryption"
            );
        }
        encrypted += usize::from(client.version().is_some());
    }
    assert!(encrypted >= 1);
}
