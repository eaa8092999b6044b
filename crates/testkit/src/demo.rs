//! The demo mailbox, shared by `scripts/demo` (through mailsync-testserver) and the test that replays the
//! demo's scenario: the fixture corpus in INBOX (19), Sent (2) and Archive (3), a quarter of it unread, some
//! flagged or answered, dated over the last two months.

use std::time::{Duration, SystemTime};

use crate::{fixture_messages, Dovecot, Flag, HarnessError};

/// Seeds the demo mailbox for `alice`: message i of the sorted corpus gets flags by i % 4 (read; unread; read
/// and flagged; read and answered); 02 and 23 go to Sent, 03, 17 and 24 to Archive, the rest to INBOX.
pub fn seed_demo(d: &Dovecot) -> Result<(), HarnessError> {
    let all = fixture_messages()?;
    let day = Duration::from_secs(86_400);
    let base = SystemTime::now() - day * 60;
    let mut inbox = Vec::new();
    let mut sent = Vec::new();
    let mut archive = Vec::new();
    for (i, (name, raw)) in all.iter().enumerate() {
        let flags: &[Flag] = match i % 4 {
            0 => &[Flag::Seen],
            1 => &[],
            2 => &[Flag::Seen, Flag::Flagged],
            _ => &[Flag::Seen, Flag::Answered],
        };
        let when = Some(base + day * u32::try_from(i).unwrap_or(0));
        let slot = if name.starts_with("23") || name.starts_with("02") {
            &mut sent
        } else if name.starts_with("03") || name.starts_with("17") || name.starts_with("24") {
            &mut archive
        } else {
            &mut inbox
        };
        slot.push((raw.as_slice(), flags, when));
    }
    d.seed_dated("alice", "INBOX", inbox)?;
    d.seed_dated("alice", "Sent", sent)?;
    d.seed_dated("alice", "Archive", archive)?;
    Ok(())
}
