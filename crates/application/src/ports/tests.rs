//! The helpers that run work in a session (run once more when its connection was lost), and the stored names
//! and codes of the ports' vocabularies. They are part of the database contract (the
//! `accounts.status`, `account_users.role` and `messages.message_type` columns hold exactly these strings) and
//! of the API (a message's `message_type` is the reference's integer code), so each one is pinned here.

use std::cell::Cell;

use super::{
    in_rolled_back_transaction, in_transaction, on_connection, AccountStatus, CommitError, MessageType, Role,
    StoreError,
};
use crate::memory::MemoryDb;

#[test]
fn account_statuses_are_stored_by_name() {
    assert_eq!(AccountStatus::Active.as_str(), "active");
    assert_eq!(AccountStatus::Suspended.as_str(), "suspended");
}

#[test]
fn roles_are_stored_by_name_and_parse_back() {
    let all = [(Role::Agent, "agent"), (Role::Administrator, "administrator")];
    for (role, name) in all {
        assert_eq!(role.as_str(), name);
        assert_eq!(Role::parse(name), Some(role), "{name}");
    }
}

#[test]
fn unknown_roles_are_refused() {
    for unknown in ["", "admin", "Agent", "ADMINISTRATOR", " agent", "owner", "xyzzy"] {
        assert_eq!(Role::parse(unknown), None, "{unknown:?}");
    }
}

#[test]
fn message_types_are_stored_by_name_sent_by_code_and_parse_back() {
    let all = [
        (MessageType::Incoming, "incoming", 0),
        (MessageType::Outgoing, "outgoing", 1),
        (MessageType::Activity, "activity", 2),
        (MessageType::Template, "template", 3),
    ];
    for (message_type, name, code) in all {
        assert_eq!(message_type.as_str(), name);
        assert_eq!(message_type.code(), code, "{name}");
        assert_eq!(MessageType::parse(name), Some(message_type), "{name}");
    }
}

#[test]
fn unknown_message_types_are_refused() {
    for unknown in ["", "0", "Incoming", "OUTGOING", "note", "activity ", "xyzzy"] {
        assert_eq!(MessageType::parse(unknown), None, "{unknown:?}");
    }
}

/// Work that fails as a statement on a lost connection does, and otherwise creates an account named `name`.
fn create_account<'a>(
    tries: &'a Cell<u32>,
    name: &str,
) -> impl FnMut(&mut dyn super::Session) -> Result<u32, StoreError> + 'a {
    let name = name.to_owned();
    move |s| {
        tries.set(tries.get() + 1);
        if s.connection_lost() {
            return Err(StoreError::Unavailable("connection lost".to_owned()));
        }
        s.insert_account(&name)?;
        Ok(tries.get())
    }
}

fn accounts(db: &MemoryDb) -> usize {
    db.lock().accounts.len()
}

#[test]
fn a_transaction_whose_connection_was_lost_runs_once_more_and_commits_once() {
    let db = MemoryDb::default();
    *db.lose_next.lock().unwrap() = 1;
    let tries = Cell::new(0);
    assert_eq!(in_transaction(&db, create_account(&tries, "a")), Ok(2));
    assert_eq!(accounts(&db), 1);
}

#[test]
fn a_transaction_runs_at_most_twice() {
    let db = MemoryDb::default();
    *db.lose_next.lock().unwrap() = 2;
    let tries = Cell::new(0);
    assert!(matches!(in_transaction(&db, create_account(&tries, "a")), Err(StoreError::Unavailable(_))));
    assert_eq!(tries.get(), 2);
    assert_eq!(accounts(&db), 0);
}

#[test]
fn a_transaction_that_fails_for_another_reason_runs_once() {
    let db = MemoryDb::default();
    let tries = Cell::new(0);
    let outcome: Result<(), StoreError> = in_transaction(&db, |_| {
        tries.set(tries.get() + 1);
        Err(StoreError::Taken { field: "email" })
    });
    assert_eq!(outcome, Err(StoreError::Taken { field: "email" }));
    assert_eq!(tries.get(), 1);
}

#[test]
fn a_successful_transaction_runs_once_and_commits() {
    let db = MemoryDb::default();
    let tries = Cell::new(0);
    assert_eq!(in_transaction(&db, create_account(&tries, "a")), Ok(1));
    assert_eq!(accounts(&db), 1);
}

#[test]
fn a_rolled_back_transaction_runs_once_more_when_lost_and_never_commits() {
    let db = MemoryDb::default();
    *db.lose_next.lock().unwrap() = 1;
    let tries = Cell::new(0);
    assert_eq!(in_rolled_back_transaction(&db, create_account(&tries, "a")), Ok(2));
    assert_eq!(accounts(&db), 0);
}

#[test]
fn a_read_runs_once_more_when_its_connection_was_lost() {
    let db = MemoryDb::default();
    *db.lose_next.lock().unwrap() = 1;
    let tries = Cell::new(0);
    let outcome = on_connection(&db, |s| {
        tries.set(tries.get() + 1);
        if s.connection_lost() {
            return Err(StoreError::Unavailable("connection lost".to_owned()));
        }
        s.has_accounts()
    });
    assert_eq!(outcome, Ok(false));
    assert_eq!(tries.get(), 2);
}

fn not_committed() -> CommitError {
    CommitError::NotCommitted(StoreError::Unavailable("connection lost; the transaction did not commit".to_owned()))
}

#[test]
fn a_transaction_known_not_to_have_committed_runs_once_more_and_commits_once() {
    let db = MemoryDb::default();
    db.failing_commits.lock().unwrap().push(not_committed());
    let tries = Cell::new(0);
    assert_eq!(in_transaction(&db, create_account(&tries, "a")), Ok(2));
    assert_eq!(accounts(&db), 1);
}

#[test]
fn a_commit_whose_outcome_is_unknown_is_never_run_again() {
    let db = MemoryDb::default();
    let unknown = StoreError::Unavailable("connection lost during COMMIT".to_owned());
    db.failing_commits.lock().unwrap().push(CommitError::Failed(unknown.clone()));
    let tries = Cell::new(0);
    assert_eq!(in_transaction(&db, create_account(&tries, "a")), Err(unknown));
    assert_eq!(tries.get(), 1);
    assert_eq!(accounts(&db), 0);
}

#[test]
fn one_lost_connection_uses_up_the_only_second_try() {
    // lost before the commit, then known not committed; and known not committed twice: the second loss ends it
    for (lost_before, failing) in [(1, vec![not_committed()]), (0, vec![not_committed(), not_committed()])] {
        let db = MemoryDb::default();
        *db.lose_next.lock().unwrap() = lost_before;
        db.failing_commits.lock().unwrap().extend(failing);
        let tries = Cell::new(0);
        assert!(matches!(in_transaction(&db, create_account(&tries, "a")), Err(StoreError::Unavailable(_))));
        assert_eq!(tries.get(), 2);
        assert_eq!(accounts(&db), 0);
    }
}
