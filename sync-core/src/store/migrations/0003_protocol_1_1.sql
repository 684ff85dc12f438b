-- Migration 3: protocol 1.1 (§9.1–9.4): replies and threads, reactions,
-- mentions, per-conversation settings.

-- §9.1: on a reply, the text replied to and the thread's root.
ALTER TABLE messages ADD COLUMN reply_to INTEGER;
ALTER TABLE messages ADD COLUMN thread INTEGER;
-- §9.2: the key of a `reaction` entry.
ALTER TABLE messages ADD COLUMN rkey TEXT;
-- §9.3: who a text (its newest applied edit) mentions, and the union over
-- the text and all its edits (JSON arrays; NULL when empty).
ALTER TABLE messages ADD COLUMN mentions TEXT;
ALTER TABLE messages ADD COLUMN mentioned TEXT;
-- §9.1/§9.2 totals of a text as of `snap_seq`: from a `messages` reply (as of
-- its `last_seq`), or empty as of the text's own seq. Reaction entries and
-- replies held above `snap_seq` are counted on top when read.
ALTER TABLE messages ADD COLUMN snap_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN snap_reactions TEXT;
ALTER TABLE messages ADD COLUMN snap_replies INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN snap_last_reply INTEGER;
CREATE INDEX messages_by_thread ON messages (conv, thread) WHERE thread IS NOT NULL;

-- §9.3 mention count (the server's, relative to read_seq) and the unread
-- texts known to mention the user (JSON array); §9.4 settings.
ALTER TABLE conversations ADD COLUMN mentions INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN mention_seqs TEXT NOT NULL DEFAULT '[]';
ALTER TABLE conversations ADD COLUMN notify TEXT NOT NULL DEFAULT 'all';
ALTER TABLE conversations ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN archived INTEGER NOT NULL DEFAULT 0;

-- §9.1: seq ranges of a thread covered by completed `thread` pages, and the
-- latest `thread_last_seq` per thread.
CREATE TABLE thread_ranges (
    conv  TEXT NOT NULL,
    root  INTEGER NOT NULL,
    lo    INTEGER NOT NULL,
    hi    INTEGER NOT NULL,
    PRIMARY KEY (conv, root, lo)
) WITHOUT ROWID;
CREATE TABLE threads (
    conv        TEXT NOT NULL,
    root        INTEGER NOT NULL,
    thread_last INTEGER NOT NULL,
    PRIMARY KEY (conv, root)
) WITHOUT ROWID;

-- §9.2: the key of a queued reaction (outbox kind `react`).
ALTER TABLE outbox ADD COLUMN rkey TEXT;
