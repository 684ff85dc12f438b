-- Migration 1: the initial cache schema.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- One row per cached conversation. `cursor` is the newest held seq; it is
-- always written in the same transaction as the messages it covers.
CREATE TABLE conversations (
    conv             TEXT PRIMARY KEY,
    kind             TEXT NOT NULL,
    title            TEXT NOT NULL,
    member_count     INTEGER NOT NULL,
    last_seq         INTEGER NOT NULL,
    read_seq         INTEGER NOT NULL,
    unread           INTEGER NOT NULL,
    local_read       INTEGER NOT NULL,
    last_json        TEXT,
    left_conv        INTEGER NOT NULL,
    cursor           INTEGER NOT NULL,
    last_activity_ts INTEGER NOT NULL
);
CREATE INDEX conversations_by_activity ON conversations (last_activity_ts DESC);

-- Held seq ranges and the explicit gaps between them (complement within 1..last_seq).
CREATE TABLE held_ranges (
    conv  TEXT NOT NULL,
    lo    INTEGER NOT NULL,
    hi    INTEGER NOT NULL,
    PRIMARY KEY (conv, lo)
) WITHOUT ROWID;
CREATE TABLE gaps (
    conv  TEXT NOT NULL,
    lo    INTEGER NOT NULL,
    hi    INTEGER NOT NULL,
    PRIMARY KEY (conv, lo)
) WITHOUT ROWID;

CREATE TABLE messages (
    id        INTEGER PRIMARY KEY,
    conv      TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    sender    TEXT NOT NULL,
    ts        INTEGER NOT NULL,
    kind      TEXT NOT NULL,
    body      TEXT,
    target    INTEGER,
    title     TEXT,
    members   TEXT,
    user_name TEXT,
    client_id TEXT,
    edited    INTEGER NOT NULL DEFAULT 0,
    redacted  INTEGER NOT NULL DEFAULT 0,
    UNIQUE (conv, seq)
);
CREATE INDEX messages_by_target ON messages (conv, target) WHERE target IS NOT NULL;

-- Full-text index of current text bodies; rowid = messages.id.
CREATE VIRTUAL TABLE messages_fts USING fts5 (body);

CREATE TABLE outbox (
    client_id   TEXT PRIMARY KEY,
    ord         INTEGER NOT NULL,
    conv        TEXT NOT NULL,
    kind        TEXT NOT NULL,
    target      INTEGER,
    body        TEXT,
    state       TEXT NOT NULL,
    err_code    TEXT,
    err_message TEXT,
    created_ts  INTEGER NOT NULL
);

CREATE TABLE receipts (
    conv      TEXT NOT NULL,
    user_name TEXT NOT NULL,
    seq       INTEGER NOT NULL,
    PRIMARY KEY (conv, user_name)
) WITHOUT ROWID;
