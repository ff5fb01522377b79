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

/// Replays `target`'s corpus; `encrypted` runs one input and says whether the session
/// reached encryption.
fn seeds_reach_encryption(target: &str, encrypted: impl Fn(&[u8]) -> bool) {
    let mut reached = 0;
    for (name, data) in corpus(target) {
        let on = encrypted(&data);
        if name.ends_with("seed-exchange") {
            assert!(on, "{name} no longer reaches encryption");
        }
        reached += usize::from(on);
    }
    assert!(reached >= 1);
}

#[test]
fn server_seeds() {
    seeds_reach_encryption("server", |d| drive::server_session(d).version().is_some());
}

#[test]
fn client_seeds() {
    seeds_reach_encryption("client", |d| drive::client_session(d).version().is_some());
}
