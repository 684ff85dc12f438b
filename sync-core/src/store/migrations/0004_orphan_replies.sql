-- Migration 4: a reply stored from our own `sent` reply before the text it
-- answers was held names no thread; when that text arrives, its replies
-- take its thread. This index finds them (few rows: only such replies).
CREATE INDEX messages_orphan_replies ON messages (conv, reply_to)
    WHERE thread IS NULL AND reply_to IS NOT NULL;
-- Replies already stored that way whose parent is held now.
UPDATE messages SET thread = (
    SELECT COALESCE(p.thread, p.seq) FROM messages p
     WHERE p.conv = messages.conv AND p.seq = messages.reply_to AND p.kind = 'text')
 WHERE thread IS NULL AND reply_to IS NOT NULL AND kind = 'text';
