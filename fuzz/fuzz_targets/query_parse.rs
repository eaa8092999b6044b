//! Fuzzes the search query language: any text either parses (no panic, no stack overflow: nesting is
//! limited) or gives an error that points inside the query.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mailsync_store::query::Query;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match Query::parse(text) {
        Ok(q) => assert_eq!(q.text(), text),
        Err(e) => {
            let col = e.column(text);
            assert!(col <= text.chars().count() + 1, "{text:?}: column {col}");
            let _ = e.caret(text);
        }
    }
});
