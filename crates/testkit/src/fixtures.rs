//! The hand-written fixture corpus in `fixtures/messages/`.

use std::path::PathBuf;

use crate::HarnessError;

/// The repository's `fixtures/` directory.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// Every `fixtures/messages/*.eml` as `(file name, bytes)`, sorted by name.
pub fn fixture_messages() -> Result<Vec<(String, Vec<u8>)>, HarnessError> {
    let dir = fixtures_dir().join("messages");
    let mut v = Vec::new();
    for entry in std::fs::read_dir(&dir).map_err(HarnessError::io("reading", &dir))? {
        let path = entry.map_err(HarnessError::io("reading", &dir))?.path();
        if path.extension().is_some_and(|e| e == "eml") {
            let bytes = std::fs::read(&path).map_err(HarnessError::io("reading", &path))?;
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            v.push((name, bytes));
        }
    }
    v.sort();
    Ok(v)
}

/// One fixture by file name prefix, e.g. `"09"` or `"09-dot-lines"`.
pub fn fixture(prefix: &str) -> Vec<u8> {
    fixture_messages()
        .ok()
        .and_then(|v| v.into_iter().find(|(n, _)| n.starts_with(prefix)).map(|(_, b)| b))
        .unwrap_or_else(|| panic!("no fixture message starting with {prefix:?}"))
}
