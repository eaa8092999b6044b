//! The engine against servers that misbehave: a real Dovecot behind a proxy that bends its answers into those
//! of buggy servers (Exchange, Zoho, Domino, Yandex...), driven in-process through `sync_account` and
//! `sync_pop3`. One test per integrity rule of `mailsync_engine::integrity`, each checking the store, the
//! server's end state and the report; and a protocol trace of what the clients saw, replayed into the same
//! events (`trace_replay`).

mod cut_links;
mod imap;
mod pop3;
mod support;
mod trace_replay;
