-- 0002_search_index.sql: schema version 2 of the mailsync store: the full-text index and attachments.
--
-- Applied once, inside one transaction, by mailsync-store (crates/store/src/migrate.rs), which in the
-- same transaction re-indexes every message already stored (a Rust step: the text comes from parsing
-- `messages.raw`), then sets PRAGMA user_version = 2. Append-only: never edited once landed.
--
-- The index is written by the store in the same transaction as the message it describes, and removed
-- with it by the trigger below, so it never disagrees with `messages`.

-- Words: unicode61 folds case and removes diacritics (Latin, Greek, Cyrillic...): "resume" finds
-- "Résumé". Contentless (the text is not stored twice); contentless_delete lets a DELETE by rowid
-- remove a message's rows. rowid = messages.id.
CREATE VIRTUAL TABLE message_fts USING fts5(
    subject, from_addr, to_addrs, cc_addrs, body, attachments,
    tokenize = 'unicode61 remove_diacritics 2',
    content = '', contentless_delete = 1
);

-- Substrings for scripts written without spaces (Chinese, Japanese, Korean, Thai...), where unicode61
-- would see a whole sentence as one word. Only messages whose text contains such a script get a row,
-- which keeps indexing cheap for everything else. The content is stored so that queries shorter than
-- a trigram (1 or 2 characters) can fall back to LIKE over it. rowid = messages.id.
CREATE VIRTUAL TABLE message_trigram USING fts5(
    subject, from_addr, to_addrs, cc_addrs, body, attachments,
    tokenize = 'trigram remove_diacritics 1'
);

-- One row per attachment part: its decoded file name (NULL when the part has none), lowercase MIME
-- type, and decoded size in bytes. `part` is the part's position in a depth-first walk of the MIME tree
-- (0 = the message itself), the same order `mailsync show --attachments` saves them in.
CREATE TABLE attachments (
    id          INTEGER PRIMARY KEY,
    message_id  INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    part        INTEGER NOT NULL CHECK (part >= 0),
    name        TEXT,
    mime_type   TEXT    NOT NULL,
    size        INTEGER NOT NULL CHECK (size >= 0)
) STRICT;

CREATE INDEX attachments_by_message ON attachments (message_id);

-- A message leaves the index with its row (it is deleted when its last location goes).
CREATE TRIGGER messages_unindex AFTER DELETE ON messages BEGIN
    DELETE FROM message_fts WHERE rowid = old.id;
    DELETE FROM message_trigram WHERE rowid = old.id;
    DELETE FROM attachments WHERE message_id = old.id;
END;
