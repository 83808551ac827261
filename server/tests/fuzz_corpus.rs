//! Replays the committed fuzzing corpus and crashers (`fuzz/corpus/<target>/`,
//! `fuzz/artifacts/<target>/`) through the fuzz targets' harness functions
//! (`sluice_server::robustness`), on the stable toolchain: every input fuzzing ever
//! found a bug with stays a regression test. A panic anywhere, also in a task the server
//! spawned, fails the test with the input's file name.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, Once};

use sluice_server::robustness;

static PANICS: AtomicUsize = AtomicUsize::new(0);
/// The tests of this file replay one input at a time, so a panic is the current input's.
static SERIAL: Mutex<()> = Mutex::new(());

fn count_panics() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            default(info);
        }));
    });
}

fn inputs(target: &str) -> Vec<PathBuf> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut files = Vec::new();
    for folder in ["corpus", "artifacts"] {
        let Ok(entries) = std::fs::read_dir(fuzz.join(folder).join(target)) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_file() {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn replay(target: &str, harness: fn(&[u8])) {
    count_panics();
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let files = inputs(target);
    assert!(!files.is_empty(), "no committed inputs for {target}");
    for path in &files {
        let input = std::fs::read(path).unwrap();
        let before = PANICS.load(Ordering::SeqCst);
        let outcome = std::panic::catch_unwind(|| harness(&input));
        let panics = PANICS.load(Ordering::SeqCst) - before;
        assert!(
            outcome.is_ok() && panics == 0,
            "{target}: {} panicked ({panics} panics)",
            path.display()
        );
    }
    eprintln!("{target}: {} inputs replayed", files.len());
}

#[test]
fn sql_frontend_corpus_and_crashers() {
    replay("sql_frontend", robustness::sql_frontend);
}

#[test]
fn wire_decoder_corpus_and_crashers() {
    replay("wire_decoder", robustness::wire_decoder);
}
