//! The `cargo fuzz` targets' bodies on stable: every input in `fuzz/corpus/{server,client}`
//! (the committed seeds, plus whatever a local fuzzing run added) is replayed through the
//! same driver, and must not panic. The seeds are whole sessions, so this also checks
//! that they still reach the encrypted states the fuzzers start from.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

#[path = "../../fuzz/fuzz_targets/drive.rs"]
mod drive;

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
        let server = drive::server_session(&data);
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
        let client = drive::client_session(&data);
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
