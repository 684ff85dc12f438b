-- Migration 2: message streams with stored consumer positions.

-- 1 when the entry was stored from a live push, 0 when pulled (catch-up,
-- gap fill, history page). Streams report it as the item's arrival.
ALTER TABLE messages ADD COLUMN live INTEGER NOT NULL DEFAULT 0;

-- A named stream consumer exists from its first start on; conversations it
-- has no position for started after it did, so it reads them from seq 0.
CREATE TABLE consumers (
    name       TEXT PRIMARY KEY,
    created_ts INTEGER NOT NULL
);

-- The consumer has handled every entry of `conv` up to `pos` (acked).
CREATE TABLE consumer_pos (
    name TEXT NOT NULL,
    conv TEXT NOT NULL,
    pos  INTEGER NOT NULL,
    PRIMARY KEY (name, conv)
) WITHOUT ROWID;
