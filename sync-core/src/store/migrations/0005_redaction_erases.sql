-- Migration 5: §9.5 on the device. A redacted text's words leave the
-- full-text index at once: FTS5 otherwise keeps a deleted row's tokens in
-- its segments until a merge rewrites them, where the database file still
-- shows them.
INSERT INTO messages_fts (messages_fts, rank) VALUES ('secure-delete', 1);
-- Edits held of a text redacted since keep no body or mentions, and are
-- flagged redacted (as a server sends them).
UPDATE messages SET body = NULL, mentions = NULL, redacted = 1
 WHERE kind = 'edit' AND redacted = 0 AND target IS NOT NULL
   AND EXISTS (SELECT 1 FROM messages t
                WHERE t.conv = messages.conv AND t.seq = messages.target
                  AND t.kind = 'text' AND t.redacted = 1);
-- Words of texts redacted before this version: rewrite the index without
-- them (once, and only in a cache that holds a redacted text).
INSERT INTO messages_fts (messages_fts)
    SELECT 'optimize' WHERE EXISTS (SELECT 1 FROM messages WHERE redacted = 1);
