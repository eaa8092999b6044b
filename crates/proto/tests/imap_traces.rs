//! Replays every transcript in `fixtures/imap/` through the session and checks the events, the bytes
//! the client sent and the states against the transcript's own `E:`, `C:`/`A:` and `state:` lines.

#[path = "imap_harness.rs"]
mod harness;

use harness::{expected_events, load_all, replay, Trace};

fn check(trace: &Trace) -> Result<(), String> {
    let r = replay(trace, &mut |_| Vec::new());
    let want = expected_events(trace);
    if r.observed != want {
        let mut msg = format!("{}: events differ\n", trace.name);
        for i in 0..r.observed.len().max(want.len()) {
            let got = r.observed.get(i).map(String::as_str).unwrap_or("<none>");
            let exp = want.get(i).map(String::as_str).unwrap_or("<none>");
            let mark = if got == exp { "  " } else { "!!" };
            msg.push_str(&format!("{mark} want: {exp}\n{mark}  got: {got}\n"));
        }
        return Err(msg);
    }
    if r.sent != r.expected_sent {
        return Err(format!(
            "{}: client bytes differ\nwant: {:?}\n got: {:?}",
            trace.name,
            String::from_utf8_lossy(&r.expected_sent),
            String::from_utf8_lossy(&r.sent)
        ));
    }
    for (want, got) in &r.states {
        if want != got {
            return Err(format!("{}: state {got}, expected {want}", trace.name));
        }
    }
    Ok(())
}

#[test]
fn every_transcript_replays_as_written() {
    let traces = load_all();
    assert!(traces.len() >= 12, "expected the full fixture set, found {}", traces.len());
    let failures: Vec<String> = traces.iter().filter_map(|t| check(t).err()).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
