//! The protocol trace on disk: one file, shared by every connection of a run, that users attach to a bug
//! report (`--trace FILE`).
//!
//! Owns: creating the file safely (mode 0600 from the first byte, never through a symlink, never over
//! anything but an empty file or an earlier trace, a regular file of ours with one name, emptied only once
//! checked), the first lines (program,
//! command, content level, limit), a label per connection (`imap#1`, `pop3#2`, `smtp#3`) and the account it
//! serves on its first line, time stamps (UTC,
//! microseconds), writing each connection's records as they happen, the size limit (writing stops with a
//! final `#` line that says so, the file never grows past the limit), and a write failure (a full disk):
//! tracing stops with one warning and the run goes on.
//! Must never: write a byte of what it carries that the proto crate's [`Recorder`] did not let through (the
//! secrets and content rules live there: RFC 3501, 1939, 5034, 5321, 4954); make a sync fail; block a
//! connection on another's (one lock, held for one batch of lines).

use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

pub use mailsync_proto::trace::{Content, Protocol};
use mailsync_proto::trace::{Record, Recorder};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use crate::EngineError;

/// The limit when none is given: 64 MiB.
pub const DEFAULT_LIMIT: u64 = 64 << 20;

/// The smallest limit that holds the first lines and the final one.
pub const MIN_LIMIT: u64 = 4096;

/// What a trace records, and for whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceOptions {
    /// How much of each message is written.
    pub content: Content,
    /// The most bytes the file may hold.
    pub limit: u64,
    /// The program and its version, for the first line.
    pub program: String,
    /// The command that runs (`sync`, `check`...), for the first line.
    pub command: String,
}

/// A trace being written; cheap to clone, shared by every connection (and [`crate::Endpoint`]). A clone
/// made by [`Trace::for_account`] names its account on each connection's first line.
#[derive(Clone)]
pub struct Trace(Arc<Shared>, Option<Arc<str>>);

struct Shared {
    content: Content,
    name: String,
    connections: AtomicU64,
    sink: Mutex<Sink>,
}

struct Sink {
    out: Option<Box<dyn Write + Send>>,
    written: u64,
    limit: u64,
}

impl std::fmt::Debug for Trace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Trace({})", self.0.name)
    }
}

impl PartialEq for Trace {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for Trace {}

impl Trace {
    /// Creates (or empties) the trace file at `path`, mode 0600. Refused, untouched: a symlink, anything but
    /// a regular file, a file with another name (a hard link), a file of another user, a file that holds
    /// anything but an earlier trace.
    pub fn create(path: &Path, options: TraceOptions) -> Result<Trace, EngineError> {
        let file = open_trace_file(path)?;
        let name = path.display().to_string();
        Ok(Trace::to_writer(Box::new(io::BufWriter::new(file)), &name, options))
    }

    /// A trace written to `out` (tests, or a file opened elsewhere); `name` names it in warnings.
    pub fn to_writer(out: Box<dyn Write + Send>, name: &str, options: TraceOptions) -> Trace {
        let shared = Shared {
            content: options.content,
            name: name.to_owned(),
            connections: AtomicU64::new(0),
            sink: Mutex::new(Sink { out: Some(out), written: 0, limit: options.limit }),
        };
        let t = Trace(Arc::new(shared), None);
        t.write(&header(&options));
        t
    }

    /// The same trace, its connections made for `account` (several accounts sync at once into one trace, and
    /// two of them may use the same server: each connection's first line says whose it is).
    pub fn for_account(&self, account: &str) -> Trace {
        Trace(self.0.clone(), Some(account.into()))
    }

    /// A new connection speaking `protocol` to `addr`: its label and first line.
    pub(crate) fn connection(&self, protocol: Protocol, addr: &str, security: &str) -> Tap {
        let n = self.0.connections.fetch_add(1, Ordering::Relaxed) + 1;
        let mut tap = Tap {
            trace: self.clone(),
            label: format!("{}#{n}", protocol.as_str()),
            recorder: Recorder::new(protocol, self.0.content),
            done: false,
        };
        match &self.1 {
            Some(account) => tap.note(&format!("connecting to {addr} ({security}) for account {account}")),
            None => tap.note(&format!("connecting to {addr} ({security})")),
        }
        tap
    }

    /// Writes whole lines while they fit under the limit; then the final line, once. A failed write ends
    /// the trace with a warning.
    fn write(&self, text: &str) {
        let Ok(mut sink) = self.0.sink.lock() else { return };
        let sink = &mut *sink;
        let Some(out) = sink.out.as_mut() else { return };
        let stop = format!(
            "# trace stopped: it reached its limit of {} bytes (--trace-limit); nothing after this was written\n",
            sink.limit
        );
        let room = sink.limit.saturating_sub(sink.written).saturating_sub(len64(&stop));
        let mut fits = 0usize;
        for line in text.split_inclusive('\n') {
            if len64(&text[..fits + line.len()]) > room {
                break;
            }
            fits += line.len();
        }
        let full = fits < text.len();
        let mut result = out.write_all(&text.as_bytes()[..fits]);
        if full && result.is_ok() {
            result = out.write_all(stop.as_bytes());
        }
        match result.and_then(|()| out.flush()) {
            Ok(()) => {
                sink.written += len64(&text[..fits]);
                if full {
                    sink.written += len64(&stop);
                    sink.out = None;
                }
            }
            Err(e) => {
                sink.out = None;
                tracing::warn!("the protocol trace {} stopped: {e}; the run goes on without it", self.0.name);
            }
        }
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.0.sink.lock().map(|s| s.written).unwrap_or(0)
    }
}

fn len64(s: &str) -> u64 {
    u64::try_from(s.len()).unwrap_or(u64::MAX)
}

/// The first lines: what wrote the trace, and how to read it.
fn header(o: &TraceOptions) -> String {
    format!(
        "{HEADER_START}, format 1: {program}, command {command}, started {now}, content {content}, \
         limit {limit} bytes\n\
         # TIME CONNECTION KIND TEXT. C: sent, S: received (one line each, CRLF not shown, other bytes outside \
         printable ASCII as \\xHH); C~ S~ part of a line without its end; C= S= message content left out, \
         <N bytes>; -- a note of mailsync's. <redacted> stands for a password, token or SASL answer.\n",
        program = o.program,
        command = o.command,
        now = now(),
        content = o.content.as_str(),
        limit = o.limit,
    )
}

/// UTC with microseconds: `2026-12-06T10:15:02.118492Z`.
fn now() -> String {
    let t = time::OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

/// One connection's side of the trace, owned by its transport.
pub(crate) struct Tap {
    trace: Trace,
    label: String,
    recorder: Recorder,
    done: bool,
}

impl std::fmt::Debug for Tap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tap({})", self.label)
    }
}

impl Tap {
    /// Bytes about to be sent.
    pub(crate) fn sent(&mut self, bytes: &[u8]) {
        let records = self.recorder.client(bytes);
        self.emit(&records, &[]);
    }

    /// Bytes received.
    pub(crate) fn received(&mut self, bytes: &[u8]) {
        let records = self.recorder.server(bytes);
        self.emit(&records, &[]);
    }

    /// A note (`--`): connected, TLS, an error, closed.
    pub(crate) fn note(&mut self, text: &str) {
        self.emit(&[], &[text]);
    }

    /// The connection is over: what is left of unfinished lines, and why it ended.
    pub(crate) fn close(&mut self, why: &str) {
        if !self.done {
            self.done = true;
            let records = self.recorder.finish();
            self.emit(&records, &[why]);
        }
    }

    fn emit(&self, records: &[Record], notes: &[&str]) {
        if records.is_empty() && notes.is_empty() {
            return;
        }
        let stamp = now();
        let mut text = String::new();
        for r in records {
            let (kind, body) = r.render();
            let _ = writeln!(text, "{stamp} {} {} {body}", self.label, kind.as_str());
        }
        for n in notes {
            // A note may quote an error; it is made printable like any line.
            let _ =
                writeln!(text, "{stamp} {} -- {}", self.label, mailsync_proto::trace::escape(n.as_bytes()));
        }
        self.trace.write(&text);
    }
}

impl Drop for Tap {
    fn drop(&mut self) {
        self.close("connection dropped");
    }
}

/// How every trace file begins.
const HEADER_START: &str = "# mailsync protocol trace";

/// Reads up to `buf.len()` bytes from the start of `file`.
fn read_up_to(mut file: &File, buf: &mut [u8]) -> io::Result<usize> {
    use std::io::Read;
    let mut got = 0;
    while got < buf.len() {
        match file.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Opens `path` for the trace: created 0600 if missing (`O_EXCL`, so nothing can appear there meanwhile),
/// else checked through the descriptor (regular file, one link, ours, empty or an earlier trace) and only then
/// emptied and set to 0600.
fn open_trace_file(path: &Path) -> Result<File, EngineError> {
    let bad = |detail: String| EngineError::LocalFile {
        what: "cannot write the trace to",
        path: PathBuf::from(path),
        detail,
    };
    let base = OFlag::O_RDWR | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK | OFlag::O_NOCTTY;
    let mode = Mode::from_bits_truncate(0o600);
    let fd = match nix::fcntl::open(path, base | OFlag::O_CREAT | OFlag::O_EXCL, mode) {
        Ok(fd) => return Ok(File::from(fd)),
        Err(Errno::EEXIST) => match nix::fcntl::open(path, base, mode) {
            Ok(fd) => fd,
            Err(Errno::ELOOP) => {
                return Err(bad("it is a symbolic link; give the path of a new file".into()))
            }
            Err(Errno::EISDIR) => return Err(bad("it is a directory; give the path of a new file".into())),
            Err(e) => return Err(bad(io::Error::from(e).to_string())),
        },
        Err(Errno::ELOOP) => return Err(bad("it is a symbolic link; give the path of a new file".into())),
        Err(e) => return Err(bad(io::Error::from(e).to_string())),
    };
    let file = File::from(fd);
    let meta = file.metadata().map_err(|e| bad(e.to_string()))?;
    if !meta.file_type().is_file() {
        return Err(bad("it is not a regular file; give the path of a new file".into()));
    }
    if meta.nlink() != 1 {
        return Err(bad(format!("it has {} names (hard links); give the path of a new file", meta.nlink())));
    }
    if meta.uid() != nix::unistd::geteuid().as_raw() {
        return Err(bad("it belongs to another user; give the path of a new file".into()));
    }
    // Only an earlier trace is emptied: `--trace` pointed at the store or a config file by mistake must not
    // destroy it.
    let mut start = [0u8; HEADER_START.len()];
    let got = read_up_to(&file, &mut start).map_err(|e| bad(e.to_string()))?;
    if got > 0 && start[..got] != HEADER_START.as_bytes()[..got] {
        return Err(bad("it is not a mailsync trace; give the path of a new file".into()));
    }
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(0o600)).map_err(|e| bad(e.to_string()))?;
    file.set_len(0).map_err(|e| bad(e.to_string()))?;
    // Reading the start moved the offset: writing begins at the first byte again.
    io::Seek::seek(&mut &file, io::SeekFrom::Start(0)).map_err(|e| bad(e.to_string()))?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    /// A writer tests can read back, and make fail.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<(Vec<u8>, Option<usize>)>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let mut g = self.0.lock().unwrap();
            if let Some(room) = g.1 {
                if g.0.len() + buf.len() > room {
                    return Err(io::Error::from_raw_os_error(28)); // ENOSPC
                }
            }
            g.0.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Shared {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().0.clone()).unwrap()
        }
    }

    fn options(limit: u64) -> TraceOptions {
        TraceOptions {
            content: Content::None,
            limit,
            program: "mailsync test".into(),
            command: "sync".into(),
        }
    }

    #[test]
    fn connections_get_labels_notes_and_time_stamped_lines() {
        let buf = Shared::default();
        let t = Trace::to_writer(Box::new(buf.clone()), "mem", options(DEFAULT_LIMIT));
        let mut a = t.connection(Protocol::Imap, "127.0.0.1:993", "tls");
        let mut b = t.for_account("work").connection(Protocol::Pop3, "127.0.0.1:995", "tls");
        a.received(b"* OK ready\r\n");
        b.received(b"+OK ready\r\n");
        a.sent(b"A0001 LOGIN alice pw-123456\r\n");
        a.close("closed");
        drop(b);
        let text = buf.text();
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].starts_with("# mailsync protocol trace, format 1: mailsync test, command sync"),
            "{text}"
        );
        let bodies: Vec<String> = lines[2..]
            .iter()
            .map(|l| l.split_once(' ').map(|x| x.1).unwrap_or_default().to_owned())
            .collect();
        assert_eq!(
            bodies,
            [
                "imap#1 -- connecting to 127.0.0.1:993 (tls)",
                "pop3#2 -- connecting to 127.0.0.1:995 (tls) for account work",
                "imap#1 S: * OK ready",
                "pop3#2 S: +OK ready",
                "imap#1 C: A0001 LOGIN alice <redacted>",
                "imap#1 -- closed",
                "pop3#2 -- connection dropped",
            ]
        );
        let stamp = lines[2].split(' ').next().unwrap();
        assert_eq!(stamp.len(), "2026-12-06T10:15:02.118492Z".len(), "{stamp}");
        assert!(!text.contains("pw-123456"));
        assert_eq!(t.written(), u64::try_from(text.len()).unwrap());
    }

    #[test]
    fn the_limit_holds_and_the_last_line_says_so() {
        let buf = Shared::default();
        let t = Trace::to_writer(Box::new(buf.clone()), "mem", options(MIN_LIMIT));
        let mut a = t.connection(Protocol::Imap, "h:1", "tls");
        for n in 0..500 {
            a.received(format!("* {n} EXISTS\r\n").as_bytes());
        }
        drop(a);
        let text = buf.text();
        assert!(text.len() as u64 <= MIN_LIMIT, "{}", text.len());
        assert!(text.len() as u64 > MIN_LIMIT - 200, "{}", text.len());
        assert!(text.ends_with("nothing after this was written\n"), "{text}");
        assert_eq!(text.matches("# trace stopped").count(), 1);
        // Every line before the final one is whole.
        assert!(text.lines().rev().nth(1).is_some_and(|l| l.ends_with("EXISTS")), "{text}");
    }

    #[test]
    fn a_full_disk_stops_the_trace_and_nothing_else() {
        let buf = Shared::default();
        let t = Trace::to_writer(Box::new(buf.clone()), "mem", options(DEFAULT_LIMIT));
        buf.0.lock().unwrap().1 = Some(buf.text().len() + 100);
        let mut a = t.connection(Protocol::Imap, "h:1", "tls");
        for n in 0..50 {
            a.received(format!("* {n} EXISTS\r\n").as_bytes());
        }
        let before = buf.text();
        a.received(b"* 999 EXISTS\r\n");
        assert_eq!(buf.text(), before, "nothing more once a write failed");
        assert!(!before.contains("* 49 EXISTS"));
    }

    #[test]
    fn the_file_is_created_0600_and_only_a_plain_file_of_ours_is_reused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("trace.txt");
        drop(Trace::create(&p, options(DEFAULT_LIMIT)).unwrap());
        assert_eq!(std::fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
        // A file that holds something else (the store, a config file) is never emptied.
        let db = dir.path().join("mail.db");
        std::fs::write(&db, "SQLite format 3\0 precious").unwrap();
        let e = Trace::create(&db, options(DEFAULT_LIMIT)).unwrap_err().to_string();
        assert!(e.contains("not a mailsync trace"), "{e}");
        assert_eq!(std::fs::read(&db).unwrap(), b"SQLite format 3\0 precious");
        // An existing trace of ours: emptied, and tightened.
        std::fs::write(&p, "# mailsync protocol trace, format 1: old content that must go\n").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        drop(Trace::create(&p, options(DEFAULT_LIMIT)).unwrap());
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(!text.contains("old content") && text.starts_with("# mailsync"), "{text}");
        assert!(!text.contains('\0'), "written from the first byte: {text:?}");
        assert_eq!(std::fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);

        let target = dir.path().join("precious");
        std::fs::write(&target, "keep me").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let hard = dir.path().join("hard");
        std::fs::hard_link(&target, &hard).unwrap();
        // (path, words of the refusal)
        let rows = [
            (link.clone(), "symbolic link"),
            (hard.clone(), "2 names"),
            (dir.path().to_path_buf(), "it is a directory"),
            (PathBuf::from("/dev/null"), "not a regular file"),
            (dir.path().join("no/such/dir/t.txt"), "No such file"),
        ];
        for (path, words) in rows {
            let e = Trace::create(&path, options(DEFAULT_LIMIT)).unwrap_err().to_string();
            assert!(e.contains("cannot write the trace to") && e.contains(words), "{}: {e}", path.display());
        }
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");
    }
}
