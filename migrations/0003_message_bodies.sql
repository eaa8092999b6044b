-- Migration 3: raw messages move out of `messages` into a table of their own.
--
-- Why: SQLite keeps as much of a row as fits in the table's leaf page, so with blobs in `messages` every scan
-- of message metadata (status counts, searches that filter on columns) also reads most of every message.
-- With the bodies apart, `messages` stays a small table of metadata, whatever the page size.
--
-- The bytes are copied unchanged; a body is deleted with its message (foreign key, ON DELETE CASCADE).
-- Append-only: never edited once landed.

CREATE TABLE message_bodies (
    message_id  INTEGER PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
    raw         BLOB    NOT NULL   -- the message exactly as the server sent it
) STRICT;

INSERT INTO message_bodies (message_id, raw) SELECT id, raw FROM messages;

ALTER TABLE messages DROP COLUMN raw;
