//! mailsync-engine: connects to mail servers and keeps the local store in step with them.
//!
//! Owns: the tokio + rustls transport, driving the sans-I/O sessions of mailsync-proto over it, the pure
//! planners that decide what a sync must do, and the runners that carry plans out in batches through one
//! store writer. Must never: change anything on an IMAP server (EXAMINE and BODY.PEEK only), delete a POP3
//! message before its local copy is durably committed, or log a credential.

pub mod auth;
pub mod compare;
pub mod endpoint;
pub mod error;
pub mod imap;
pub mod integrity;
pub mod pop3;
pub mod smtp;
pub mod steps;
pub mod trace;
pub mod transport;
pub mod watch;
pub mod writer;

pub use auth::{Credentials, Renew};
pub use endpoint::{Endpoint, Reconnect, Security, Timeouts};
pub use error::{EngineError, ErrorKind};
pub use steps::{NoSteps, Step, StepLog, Steps};
pub use trace::{Trace, TraceOptions};
pub use transport::Transport;
pub use writer::StoreHandle;
