//! POP3 client protocol (RFC 1939). Filled in by the POP3 work.
