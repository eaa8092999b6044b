//! IMAP4rev1 client protocol (RFC 3501). Filled in by the IMAP work.
