//! Schema migrations (numbered SQL, one transaction each, version kept in
//! `PRAGMA user_version`) and the connection pragmas.
//!
//! Read diffusion: one timeline per conversation (`entries`, keyed
//! `(conv, seq)`), written once whatever the group size, plus one `members`
//! row per (user, conversation) that holds the read cursor, settings and the
//! change value of its own last change; the conversation row holds the change
//! value of its last append, so an append writes no member row.

use rusqlite::Connection;

use super::StoreError;

/// Pragmas every connection runs: WAL so readers never block the writer, and
/// `synchronous=FULL` so a committed transaction survives power loss and
/// kill -9 (a `sent` reply is only sent after commit).
pub const PRAGMAS: &str = "PRAGMA journal_mode=WAL;
PRAGMA synchronous=FULL;
PRAGMA secure_delete=ON;
PRAGMA foreign_keys=ON;
PRAGMA busy_timeout=5000;";

/// Migration `i` moves the schema from version `i` to `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    // 1: the whole initial schema.
    "CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE users (
        name       TEXT PRIMARY KEY,
        pw_hash    TEXT NOT NULL,
        created_ms INTEGER NOT NULL
    ) WITHOUT ROWID;

    -- Only SHA-256(token) is stored; a token belongs to one user and device.
    CREATE TABLE tokens (
        hash       BLOB PRIMARY KEY,
        user       TEXT NOT NULL REFERENCES users(name),
        device     TEXT NOT NULL,
        created_ms INTEGER NOT NULL
    ) WITHOUT ROWID;

    -- direct_key is 'a|b' (sorted names) for direct conversations, so at most
    -- one exists per pair. text_count = text_n of the newest entry.
    CREATE TABLE convs (
        id            INTEGER PRIMARY KEY,
        kind          TEXT NOT NULL,
        title         TEXT NOT NULL,
        direct_key    TEXT UNIQUE,
        member_count  INTEGER NOT NULL,
        last_seq      INTEGER NOT NULL,
        last_text_seq INTEGER NOT NULL,
        text_count    INTEGER NOT NULL
    );

    -- text_n: number of text entries up to and including this seq, so
    -- unread is one subtraction.
    CREATE TABLE entries (
        conv      INTEGER NOT NULL REFERENCES convs(id),
        seq       INTEGER NOT NULL,
        sender    TEXT NOT NULL,
        ts        INTEGER NOT NULL,
        kind      TEXT NOT NULL,
        body      TEXT,
        target    INTEGER,
        title     TEXT,
        members   TEXT,
        subject   TEXT,
        client_id TEXT,
        text_n    INTEGER NOT NULL,
        redacted  INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (conv, seq)
    ) WITHOUT ROWID;
    CREATE UNIQUE INDEX entries_client_id ON entries (conv, sender, client_id)
        WHERE client_id IS NOT NULL;

    -- One row per (user, conversation) ever joined. active=0 after leave; the
    -- left_* columns freeze the summary as of the leave. change_seq is the
    -- global change counter value of the last change to this user's summary
    -- (since migration 4: of this row's own last change; see convs.change_seq).
    CREATE TABLE members (
        user         TEXT NOT NULL REFERENCES users(name),
        conv         INTEGER NOT NULL REFERENCES convs(id),
        ord          INTEGER NOT NULL,
        active       INTEGER NOT NULL,
        read_seq     INTEGER NOT NULL,
        read_text_n  INTEGER NOT NULL,
        change_seq   INTEGER NOT NULL,
        left_seq     INTEGER NOT NULL DEFAULT 0,
        left_text_seq INTEGER NOT NULL DEFAULT 0,
        left_text_n  INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (user, conv)
    ) WITHOUT ROWID;
    CREATE INDEX members_by_change ON members (user, change_seq);
    CREATE INDEX members_by_conv ON members (conv, active, ord);",
    // 2: running a server for a team: disabled users, token idle expiry,
    // invite codes, and an epoch admin commands bump so a running server
    // re-checks its connections.
    "ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE tokens ADD COLUMN last_used_ms INTEGER NOT NULL DEFAULT 0;
    UPDATE tokens SET last_used_ms = created_ms;
    CREATE TABLE invites (
        code       TEXT PRIMARY KEY,
        uses_left  INTEGER NOT NULL,
        expires_ms INTEGER,
        created_ms INTEGER NOT NULL
    ) WITHOUT ROWID;
    INSERT OR IGNORE INTO meta (key, value) VALUES ('admin_epoch', '0');",
    // 3: protocol 1.1 (§9.1-9.4). Replies, reactions and mentions are columns
    // of the one timeline; the totals a `messages` reply carries come from
    // aggregate tables kept at append and redact, never from a scan; the
    // summary's mention count comes from the `mentions` index (one row per
    // mentioned user and text, not one per member); settings live on the
    // member row.
    "ALTER TABLE entries ADD COLUMN reply_to INTEGER;
    ALTER TABLE entries ADD COLUMN thread INTEGER;
    ALTER TABLE entries ADD COLUMN key TEXT;
    -- JSON array of mentioned users (sorted), NULL when none.
    ALTER TABLE entries ADD COLUMN mentions TEXT;
    CREATE INDEX entries_by_thread ON entries (conv, thread, seq) WHERE thread IS NOT NULL;
    -- Standing-reaction lookups (a duplicate is conflict).
    CREATE INDEX entries_reactions ON entries (conv, target, sender, key)
        WHERE kind = 'reaction';

    -- Per thread root: its replies (texts, redacted ones included) and the
    -- newest reply's seq.
    CREATE TABLE thread_stats (
        conv           INTEGER NOT NULL,
        root           INTEGER NOT NULL,
        replies        INTEGER NOT NULL,
        last_reply_seq INTEGER NOT NULL,
        PRIMARY KEY (conv, root)
    ) WITHOUT ROWID;

    -- Standing reactions per (text, key); rows at 0 are deleted.
    CREATE TABLE reaction_counts (
        conv   INTEGER NOT NULL,
        target INTEGER NOT NULL,
        key    TEXT NOT NULL,
        n      INTEGER NOT NULL,
        PRIMARY KEY (conv, target, key)
    ) WITHOUT ROWID;

    -- One row per (mentioned user, text) that mentions them (the text or a
    -- later edit); deleted when the text is redacted (the users are read
    -- from the text's and its edits' `mentions`). A summary counts the rows
    -- above the read cursor.
    CREATE TABLE mentions (
        user TEXT NOT NULL,
        conv INTEGER NOT NULL,
        seq  INTEGER NOT NULL,
        PRIMARY KEY (user, conv, seq)
    ) WITHOUT ROWID;

    ALTER TABLE members ADD COLUMN notify TEXT NOT NULL DEFAULT 'all';
    ALTER TABLE members ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE members ADD COLUMN archived INTEGER NOT NULL DEFAULT 0;",
    // 4: read diffusion for the change index. An append batch bumps the
    // conversation's change_seq (one row whatever the group size), not every
    // active member's; a member's change value is the later of the two while
    // active (rows::CHANGE), its own after a leave. Member rows are
    // written only by membership, read and settings changes. Old member
    // values stay valid: a conversation at 0 never wins the comparison.
    "ALTER TABLE convs ADD COLUMN change_seq INTEGER NOT NULL DEFAULT 0;
    DROP INDEX members_by_change;",
    // 5: §9.3 mention counts as two counters on the member row, as unread
    // is (text_count − read_text_n): mention_n counts the standing mentions
    // of the member in the conversation, read_mention_n those at or below
    // read_seq, so a summary's count is one subtraction. The mention rows
    // are keyed by (conv, seq, user): an append adds them at the end of its
    // conversation's range instead of in every mentioned user's, and a read
    // counts the ones its cursor passes (see cmd/send.rs).
    MENTION_COUNTERS_SQLITE,
    // 6: the standing-reaction lookup of every `react` (target, sender,
    // key, not withdrawn) is answered by its index alone: without
    // `redacted` in it, SQLite read the whole conversation instead.
    "DROP INDEX entries_reactions;
    CREATE INDEX entries_reactions ON entries (conv, target, sender, key, redacted)
        WHERE kind = 'reaction';",
    // 7: a user's tokens by user: `logout` with `all`, a password change
    // and `admin revoke` delete them in the writer thread, which read the
    // whole tokens table (every session of every user) to find them.
    "CREATE INDEX tokens_by_user ON tokens (user);",
    // 8: a version of each conversation's membership, bumped with
    // `member_count` by every join and leave: a node of a cluster keeps its
    // cached member lists when another node wrote, unless their version
    // moved (it reloaded every list, 10,000 rows for a large group, after
    // every batch of the other node's).
    "ALTER TABLE convs ADD COLUMN members_v INTEGER NOT NULL DEFAULT 0;",
];

/// Migration 5 (SQLite).
const MENTION_COUNTERS_SQLITE: &str = "
    ALTER TABLE members ADD COLUMN mention_n INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE members ADD COLUMN read_mention_n INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE mentions_by_seq (
        conv INTEGER NOT NULL,
        seq  INTEGER NOT NULL,
        user TEXT NOT NULL,
        PRIMARY KEY (conv, seq, user)
    ) WITHOUT ROWID;
    INSERT INTO mentions_by_seq (conv, seq, user) SELECT conv, seq, user FROM mentions;
    DROP TABLE mentions;
    ALTER TABLE mentions_by_seq RENAME TO mentions;
    UPDATE members SET
        mention_n = (SELECT COUNT(*) FROM mentions x
            WHERE x.conv = members.conv AND x.user = members.user),
        read_mention_n = (SELECT COUNT(*) FROM mentions x
            WHERE x.conv = members.conv AND x.user = members.user AND x.seq <= members.read_seq);";

/// Applies the pragmas and every pending migration; creates `server_id` and
/// the change counter on a fresh database. Returns the server id.
pub fn prepare(conn: &mut Connection) -> Result<String, StoreError> {
    conn.execute_batch(PRAGMAS)
        .map_err(|e| StoreError::Sql("apply pragmas", e.into()))?;
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| StoreError::Sql("read schema version", e.into()))?;
    let version = usize::try_from(version).unwrap_or(usize::MAX);
    if version > MIGRATIONS.len() {
        return Err(StoreError::SchemaTooNew(version));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(|e| StoreError::Sql("begin migration", e.into()))?;
        tx.execute_batch(sql)
            .map_err(|e| StoreError::Sql("run migration", e.into()))?;
        // user_version cannot be bound as a parameter.
        tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))
            .map_err(|e| StoreError::Sql("set schema version", e.into()))?;
        tx.commit()
            .map_err(|e| StoreError::Sql("commit migration", e.into()))?;
    }
    let random: [u8; 16] = rand::random();
    conn.execute(
        "INSERT OR IGNORE INTO meta (key, value) VALUES ('server_id', ?1), ('change_seq', '0')",
        [hex::encode(random)],
    )
    .map_err(|e| StoreError::Sql("create server id", e.into()))?;
    conn.query_row("SELECT value FROM meta WHERE key = 'server_id'", [], |r| {
        r.get(0)
    })
    .map_err(|e| StoreError::Sql("read server id", e.into()))
}
