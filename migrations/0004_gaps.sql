-- 0004_gaps.sql: schema version 4 of the mailsync store: gaps are retried, and runs say what they left out.
--
-- A gap is a message the server lists that the store does not hold, with the reason: FETCH returned nothing
-- for the UID (Exchange), a broken or partial answer, two different bodies for one UID, or Exchange's
-- "Retrieval using the IMAP4/POP3 protocol failed" stand-in instead of the message. A gap is never final:
-- it is retried on a later run, with a back-off that grows with the attempts, and shown by `sync` and
-- `status` until the message is stored or leaves the server.
--
-- Applied once, inside one transaction, by mailsync-store (crates/store/src/migrate.rs), which then sets
-- PRAGMA user_version = 4. Append-only: never edited once landed.

-- IMAP gaps (the table of version 1, which recorded a UID once and skipped it for ever): how often it
-- was tried, and from when it may be tried again (unix seconds; 0: at the next run).
ALTER TABLE unfetchable ADD COLUMN attempts INTEGER NOT NULL DEFAULT 1 CHECK (attempts >= 1);
ALTER TABLE unfetchable ADD COLUMN retry_after INTEGER NOT NULL DEFAULT 0;

-- POP3 gaps: a listed message that was not stored, keyed by the identity the download used (its UIDL, or
-- for a message without a usable UIDL the content identity of what the server sent).
CREATE TABLE pop3_gaps (
    account_id     INTEGER NOT NULL REFERENCES accounts(id),
    uidl           TEXT    NOT NULL,
    reason         TEXT    NOT NULL,
    first_seen_at  INTEGER NOT NULL,
    attempts       INTEGER NOT NULL DEFAULT 1 CHECK (attempts >= 1),
    retry_after    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, uidl)
) STRICT, WITHOUT ROWID;

-- What a run left out (messages listed but not stored, each recorded as a gap) and how many server
-- responses or items it had to step over because they broke the protocol; and the process that ran it,
-- so that `status` tells a run still going from one that was interrupted.
ALTER TABLE sync_runs ADD COLUMN gaps INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sync_runs ADD COLUMN warnings INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sync_runs ADD COLUMN pid INTEGER;
