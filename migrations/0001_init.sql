-- 0001_init.sql: schema version 1 of the mailsync store.
--
-- Applied once, inside one transaction, by mailsync-store (crates/store/src/migrate.rs), which then sets
-- PRAGMA user_version = 1. Append-only: once this file has landed it is never edited; later changes go
-- into 0002_*.sql and onwards.
--
-- Conventions:
--   * every table is STRICT, so a value of the wrong type is an error instead of a silent conversion;
--   * times are unix seconds (INTEGER, UTC);
--   * protocol numbers (UID, UIDVALIDITY, MODSEQ) are INTEGER and range-checked here as well as in Rust;
--   * lists of atoms (flags, mailbox attributes) are single-space-separated TEXT, flags sorted.

-- One configured account (the name is the key of [accounts.NAME] in the config file).
CREATE TABLE accounts (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
) STRICT;

-- One IMAP mailbox of an account, with the sync cursor that describes how far the local copy goes.
-- The cursor columns (uidvalidity, uidnext, highestmodseq, last_sync_at) are written in the same
-- transaction as the messages they describe.
CREATE TABLE mailboxes (
    id             INTEGER PRIMARY KEY,
    account_id     INTEGER NOT NULL REFERENCES accounts(id),
    name           TEXT    NOT NULL,                  -- decoded UTF-8 (not modified UTF-7)
    delimiter      TEXT    CHECK (delimiter IS NULL OR length(delimiter) = 1),  -- NULL: flat namespace
    attributes     TEXT    NOT NULL DEFAULT '',       -- LIST attributes, e.g. '\HasNoChildren \Sent'
    special_use    TEXT,                              -- RFC 6154 use, e.g. '\Sent'
    uidvalidity    INTEGER CHECK (uidvalidity BETWEEN 1 AND 4294967295),
    uidnext        INTEGER CHECK (uidnext BETWEEN 1 AND 4294967295),
    highestmodseq  INTEGER CHECK (highestmodseq >= 1),  -- NULL without CONDSTORE (Outlook)
    last_sync_at   INTEGER,
    UNIQUE (account_id, name)
) STRICT;

-- One distinct message, identified by the SHA-256 of its raw bytes. The same bytes seen in two folders,
-- or over IMAP and over POP3, are stored once and have several rows in `locations`.
-- The header columns are an index built at store time; `raw` is the truth, byte for byte.
-- `raw` is the last column on purpose: SQLite reads the columns of a row in order and a large blob
-- spills into overflow pages, so columns placed after it would cost a walk through those pages.
CREATE TABLE messages (
    id               INTEGER PRIMARY KEY,
    sha256           BLOB    NOT NULL UNIQUE CHECK (length(sha256) = 32),  -- of `raw`
    size             INTEGER NOT NULL CHECK (size >= 0),                   -- length of `raw` in bytes
    message_id       TEXT,             -- Message-ID without angle brackets; NULL when absent
    date             INTEGER,          -- Date header as unix seconds; NULL when absent or unparsable
    date_header      TEXT,             -- the Date header as written
    from_addr        TEXT,             -- decoded display text, addresses included
    to_addrs         TEXT,
    cc_addrs         TEXT,
    subject          TEXT,             -- RFC 2047 decoded
    in_reply_to      TEXT,             -- message ids without angle brackets, space-separated
    references_      TEXT,             -- message ids without angle brackets, space-separated
    has_attachments  INTEGER NOT NULL CHECK (has_attachments IN (0, 1)),
    parse_error      TEXT,             -- NULL, or why the header index is incomplete
    created_at       INTEGER NOT NULL,
    raw              BLOB    NOT NULL  -- the message exactly as the server sent it
) STRICT;

CREATE INDEX messages_by_message_id ON messages (message_id) WHERE message_id IS NOT NULL;
CREATE INDEX messages_by_date ON messages (date);

-- Where a message lives on a server: an IMAP (mailbox, uid), or a POP3 (account, uidl).
-- IMAP rows follow the server (an expunge removes the row); POP3 rows record a download and are never
-- removed by IMAP operations; deleted_on_server_at marks a POP3 message deleted after a durable commit.
CREATE TABLE locations (
    id                    INTEGER PRIMARY KEY,
    message_id            INTEGER NOT NULL REFERENCES messages(id),
    account_id            INTEGER NOT NULL REFERENCES accounts(id),
    protocol              TEXT    NOT NULL CHECK (protocol IN ('imap', 'pop3')),
    mailbox_id            INTEGER REFERENCES mailboxes(id),        -- IMAP only
    uid                   INTEGER CHECK (uid BETWEEN 1 AND 4294967295),  -- IMAP only
    uidl                  TEXT,                                    -- POP3 only
    flags                 TEXT    NOT NULL DEFAULT '',             -- IMAP flags, sorted, space-separated
    internaldate          INTEGER,                                 -- IMAP INTERNALDATE, unix seconds
    modseq                INTEGER CHECK (modseq >= 1),             -- IMAP CONDSTORE MODSEQ
    first_seen_at         INTEGER NOT NULL,
    downloaded_at         INTEGER,                                 -- POP3: when RETR was committed
    deleted_on_server_at  INTEGER,                                 -- POP3: NULL while on the server
    CHECK ((protocol = 'imap' AND mailbox_id IS NOT NULL AND uid IS NOT NULL AND uidl IS NULL)
        OR (protocol = 'pop3' AND mailbox_id IS NULL AND uid IS NULL AND uidl IS NOT NULL))
) STRICT;

-- Access paths: the planner's "UIDs, flags and modseqs of a mailbox" (queries must say
-- protocol = 'imap' for SQLite to use the partial index), POP3 "known UIDLs of an account",
-- "is this message still anywhere" (orphan check; also serves the foreign key), per-account status.
CREATE UNIQUE INDEX locations_imap ON locations (mailbox_id, uid) WHERE protocol = 'imap';
CREATE UNIQUE INDEX locations_pop3 ON locations (account_id, uidl) WHERE protocol = 'pop3';
CREATE INDEX locations_by_message ON locations (message_id);
CREATE INDEX locations_by_account ON locations (account_id, protocol);

-- UIDs that SEARCH lists but FETCH never returns (Exchange), so a sync records them and moves on
-- instead of failing or looping. Void when the mailbox's UIDVALIDITY changes.
CREATE TABLE unfetchable (
    mailbox_id  INTEGER NOT NULL REFERENCES mailboxes(id),
    uid         INTEGER NOT NULL CHECK (uid BETWEEN 1 AND 4294967295),
    reason      TEXT    NOT NULL,
    seen_at     INTEGER NOT NULL,   -- first time the UID was found unfetchable
    PRIMARY KEY (mailbox_id, uid)
) STRICT, WITHOUT ROWID;

-- One sync of one account over one protocol: what it did, and how it ended.
CREATE TABLE sync_runs (
    id                 INTEGER PRIMARY KEY,
    account_id         INTEGER NOT NULL REFERENCES accounts(id),
    protocol           TEXT    NOT NULL CHECK (protocol IN ('imap', 'pop3')),
    started_at         INTEGER NOT NULL,
    finished_at        INTEGER,           -- NULL while running, or if the process died
    new                INTEGER NOT NULL DEFAULT 0,
    updated            INTEGER NOT NULL DEFAULT 0,
    removed            INTEGER NOT NULL DEFAULT 0,
    deleted_on_server  INTEGER NOT NULL DEFAULT 0,
    bytes              INTEGER NOT NULL DEFAULT 0,
    error              TEXT               -- NULL on success
) STRICT;

CREATE INDEX sync_runs_by_account ON sync_runs (account_id, protocol, started_at);
