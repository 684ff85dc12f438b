//! The writer's batch transaction against a real SQLite database: what an
//! append writes, counted by temporary triggers on the writer's connection.

use std::collections::HashMap;

use rusqlite::{Connection, params};

use super::{Writers, load_counter, transact};
use crate::Features;
use crate::cmd::send::send_op;
use crate::store::rows::CHANGE;
use crate::store::schema;

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
    let mut cache = HashMap::new();

    let ops = vec![
        (send_op("small3", 1, "m1", "hello ten"), None),
        (send_op("big7", 2, "m1", "hello two thousand"), None),
    ];
    let out = transact(
        &db,
        &mut counter,
        &mut cache,
        Features::ALL,
        Writers::One,
        ops,
    )
    .expect("batch");
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
    transact(
        &db,
        &mut counter,
        &mut cache,
        Features::ALL,
        Writers::One,
        ops,
    )
    .expect("batch 2");
    assert_eq!(
        take_member_writes(&db),
        vec![("update".to_owned(), "big1999".to_owned())]
    );
    assert_eq!(change_of(&db, "big0", 2), 3);
    assert_eq!(change_of(&db, "small0", 1), 1);
}
