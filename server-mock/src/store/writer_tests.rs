//! The writer's batch transaction against a real SQLite database: what an
//! append writes, counted by temporary triggers on the writer's connection.

use rusqlite::{Connection, params};

use super::{Writers, load_counter, transact};
use crate::Features;
use crate::cmd::read::read_write_op;
use crate::cmd::send::{edit_op, redact_op, send_op};
use crate::store::rows::CHANGE;
use crate::store::schema;

/// Runs `ops` as one batch of the single (SQLite) writer.
fn one_writer_batch(
    db: &Connection,
    counter: &mut i64,
    cache: &mut crate::store::batch::MemberCache,
    ops: Vec<(crate::store::batch::WriteOp, Option<u64>)>,
) -> Result<Vec<super::Applied>, crate::error::StoreError> {
    transact(db, counter, cache, Features::ALL, Writers::One, ops)
}

/// A group of `n` members `{prefix}0..` with row id `conv`, written directly.
fn group(db: &Connection, conv: i64, prefix: &str, n: usize) {
    db.execute(
        "INSERT INTO convs (id, kind, title, member_count, last_seq, last_text_seq, text_count)
         VALUES (?1, 'group', 'big', ?2, 0, 0, 0)",
        params![conv, n],
    )
    .expect("insert conv");
    let mut user = db
        .prepare("INSERT INTO users (name, pw_hash, created_ms) VALUES (?1, 'x', 0)")
        .expect("prepare user");
    let mut member = db
        .prepare(
            "INSERT INTO members (user, conv, ord, active, read_seq, read_text_n, change_seq)
             VALUES (?1, ?2, ?3, 1, 0, 0, 0)",
        )
        .expect("prepare member");
    for i in 0..n {
        let name = format!("{prefix}{i}");
        user.execute([&name]).expect("insert user");
        member
            .execute(params![name, conv, i])
            .expect("insert member");
    }
}

/// Every member row the connection inserts, updates or deletes from now on
/// is recorded as `(op, user)` in `temp.member_writes`.
fn count_member_writes(db: &Connection) {
    db.execute_batch(
        "CREATE TEMP TABLE member_writes (op TEXT NOT NULL, user TEXT NOT NULL);
         CREATE TEMP TRIGGER mw_ins AFTER INSERT ON main.members
             BEGIN INSERT INTO member_writes VALUES ('insert', NEW.user); END;
         CREATE TEMP TRIGGER mw_upd AFTER UPDATE ON main.members
             BEGIN INSERT INTO member_writes VALUES ('update', NEW.user); END;
         CREATE TEMP TRIGGER mw_del AFTER DELETE ON main.members
             BEGIN INSERT INTO member_writes VALUES ('delete', OLD.user); END;",
    )
    .expect("create counting triggers");
}

fn take_member_writes(db: &Connection) -> Vec<(String, String)> {
    let mut stmt = db
        .prepare("SELECT op, user FROM member_writes ORDER BY rowid")
        .expect("prepare writes");
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query writes")
        .collect::<Result<Vec<_>, _>>()
        .expect("read writes");
    db.execute("DELETE FROM member_writes", [])
        .expect("clear writes");
    rows
}

fn change_of(db: &Connection, user: &str, conv: i64) -> i64 {
    db.query_row(
        &format!("SELECT {CHANGE} FROM members m JOIN convs c ON c.id = m.conv WHERE m.user = ?1 AND m.conv = ?2"),
        params![user, conv],
        |r| r.get(0),
    )
    .expect("change value")
}

#[test]
fn an_append_to_a_2000_member_group_writes_only_the_senders_cursor() {
    let mut db = Connection::open_in_memory().expect("open");
    schema::prepare(&mut db).expect("migrate");
    group(&db, 1, "small", 10);
    group(&db, 2, "big", 2000);
    count_member_writes(&db);
    let mut counter = load_counter(&db).expect("counter");
    let mut cache = crate::store::batch::MemberCache::default();

    let ops = vec![
        (send_op("small3", 1, "m1", "hello ten"), None),
        (send_op("big7", 2, "m1", "hello two thousand"), None),
    ];
    let out = one_writer_batch(&db, &mut counter, &mut cache, ops).expect("batch");
    assert!(out.iter().all(|(r, _)| r.is_ok()), "{out:?}");

    // The only member rows written are each sender's own read cursor: the
    // same for 10 members as for 2,000.
    assert_eq!(
        take_member_writes(&db),
        vec![
            ("update".to_owned(), "small3".to_owned()),
            ("update".to_owned(), "big7".to_owned()),
        ]
    );
    // The batch handed out one change value per touched conversation, and
    // every member, sender or not, sees its conversation's.
    assert_eq!(counter, 2);
    assert_eq!(change_of(&db, "small0", 1), 1);
    assert_eq!(change_of(&db, "small3", 1), 1);
    assert_eq!(change_of(&db, "big0", 2), 2);
    assert_eq!(change_of(&db, "big1999", 2), 2);

    // A second batch moves the big group's members past the first token.
    let ops = vec![(send_op("big1999", 2, "m2", "again"), None)];
    one_writer_batch(&db, &mut counter, &mut cache, ops).expect("batch 2");
    assert_eq!(
        take_member_writes(&db),
        vec![("update".to_owned(), "big1999".to_owned())]
    );
    assert_eq!(change_of(&db, "big0", 2), 3);
    assert_eq!(change_of(&db, "small0", 1), 1);
}

/// One batch whose texts' mention rows are written together
/// (`store::mention_rows`), interleaved with everything that reads them:
/// a text whose sender an earlier text of the batch mentions, a read, a
/// read that fails after the rows were written inside its savepoint, an
/// edit that adds a mention and a redaction. The counters end where the
/// timeline says.
#[test]
fn a_batch_writes_its_mention_rows_before_anything_reads_them() {
    let mut db = Connection::open_in_memory().expect("open");
    schema::prepare(&mut db).expect("migrate");
    group(&db, 1, "m", 4);
    let mut counter = load_counter(&db).expect("counter");
    let mut cache = crate::store::batch::MemberCache::default();
    let ops = vec![
        (send_op("m0", 1, "t1", "@m1 @m2 hi"), None), // seq 1
        (send_op("m1", 1, "t2", "@m3 yo"), None),     // seq 2: passes #1
        (read_write_op("m9", 1, 2), None),            // not a member
        (read_write_op("m2", 1, 1), None),
        (send_op("m0", 1, "t3", "@m2 @m3"), None), // seq 3
        (edit_op("m0", 1, "e1", 3, "@m1 @m2 @m3"), None),
        (redact_op("m0", 1, "r1", 1), None),
    ];
    let out = one_writer_batch(&db, &mut counter, &mut cache, ops).expect("batch");
    let failed: Vec<usize> = (0..out.len()).filter(|&i| out[i].0.is_err()).collect();
    assert_eq!(failed, [2], "{out:?}");

    let rows: Vec<(i64, String)> = db
        .prepare("SELECT seq, user FROM mentions WHERE conv = 1")
        .expect("prepare")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    let rows: Vec<(i64, &str)> = rows.iter().map(|(s, u)| (*s, u.as_str())).collect();
    assert_eq!(rows, [(2, "m3"), (3, "m1"), (3, "m2"), (3, "m3")]);
    for (user, counters) in [
        ("m0", (0, 0)),
        ("m1", (1, 0)),
        ("m2", (1, 0)),
        ("m3", (2, 0)),
    ] {
        let got: (i64, i64) = db
            .query_row(
                "SELECT mention_n, read_mention_n FROM members WHERE user = ?1 AND conv = 1",
                [user],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .expect("counters");
        assert_eq!(got, counters, "{user}");
    }
}

/// The writer's connection never prepares a statement again because of a
/// new binding (query planner stability, `store::open_conn`): the
/// membership check every send runs, a join through its parameters, used
/// to be re-prepared on each use.
#[test]
fn cached_statements_are_not_prepared_again_on_each_use() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut db = crate::store::open_conn(&dir.path().join("w.db")).expect("open");
    schema::prepare(&mut db).expect("migrate");
    group(&db, 1, "m", 4);
    let mut counter = load_counter(&db).expect("counter");
    let mut cache = crate::store::batch::MemberCache::default();
    for i in 0..20 {
        let ops = vec![(
            send_op(&format!("m{}", i % 4), 1, &format!("t{i}"), "hi"),
            None,
        )];
        one_writer_batch(&db, &mut counter, &mut cache, ops).expect("batch");
    }
    let st = db
        .prepare_cached(crate::store::batch::MEMBER_CONV)
        .expect("cached");
    assert_eq!(st.get_status(rusqlite::StatementStatus::Run), 20);
    assert_eq!(st.get_status(rusqlite::StatementStatus::RePrepare), 0);
}
