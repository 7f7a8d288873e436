//! The duplicates use cases against the in-memory ports.

use chrono::Duration;
use domain::{AccountId, ContactId, UserId};
use serde_json::json;

use super::*;
use crate::contacts::{create_contact, delete_contact, update_contact, ContactChanges, CreateContact};
use crate::memory::MemoryDb;
use crate::merge_contacts::{merge_contacts, MergeContacts};
use crate::ports::Role;
use crate::undo::{undo_merge, UndoMerge};

const ACCOUNT: AccountId = AccountId::new(1);
const OTHER_ACCOUNT: AccountId = AccountId::new(2);

fn admin() -> Member {
    Member { user_id: UserId::new(7), account_id: ACCOUNT, role: Role::Administrator }
}

fn create(db: &MemoryDb, account: AccountId, name: &str, email: Option<&str>) -> ContactId {
    let fields =
        ContactChanges { name: Some(name.into()), email: Some(email.map(Into::into)), ..ContactChanges::default() };
    create_contact(db, account, CreateContact { fields, ..CreateContact::default() }).unwrap().contact.contact.id
}

/// Runs the duplicates worker until the queue is empty, as `coalesce serve` does in the background.
fn settle(db: &MemoryDb) {
    while refresh_queued(db, QUEUE_BATCH).unwrap().account.is_some() {}
}

/// The read, once the worker has caught up (shadows the use case for the tests below).
fn contact_duplicates(db: &MemoryDb, account: AccountId, id: ContactId) -> Result<Vec<Suggestion>, DuplicatesError> {
    settle(db);
    super::contact_duplicates(db, account, id)
}

/// The read, once the worker has caught up (shadows the use case for the tests below).
fn duplicate_pairs(db: &MemoryDb, account: AccountId, page: u64, min: f64) -> Result<PairList, DuplicatesError> {
    settle(db);
    super::duplicate_pairs(db, account, page, min)
}

fn codes(s: &Suggestion) -> Vec<String> {
    s.reasons.as_array().unwrap().iter().map(|r| r["code"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn creating_a_look_alike_suggests_both_ways_with_reasons_and_differences() {
    let db = MemoryDb::default();
    let a = create(&db, ACCOUNT, "Jo Doe", Some("jo.doe@acme.example"));
    let b = create(&db, ACCOUNT, "Jo Doe", Some("jo.doe@gmail.com"));
    let _stranger = create(&db, ACCOUNT, "Max Mustermann", Some("max@other.example"));
    let _elsewhere = create(&db, OTHER_ACCOUNT, "Jo Doe", Some("jo.doe@mail.example"));
    let of_a = contact_duplicates(&db, ACCOUNT, a).unwrap();
    assert_eq!(of_a.len(), 1);
    assert_eq!(of_a[0].contact.contact.id, b);
    assert_eq!(of_a[0].confidence, 0.85);
    assert_eq!(codes(&of_a[0]), ["same_email_local_part", "similar_name"]);
    assert_eq!(
        of_a[0].differences,
        [Difference { field: "email", this: json!("jo.doe@acme.example"), other: json!("jo.doe@gmail.com") }]
    );
    let of_b = contact_duplicates(&db, ACCOUNT, b).unwrap();
    assert_eq!(of_b[0].contact.contact.id, a);
    assert_eq!(of_b[0].differences[0].this, json!("jo.doe@gmail.com"));
    let list = duplicate_pairs(&db, ACCOUNT, 1, 0.0).unwrap();
    assert_eq!((list.total, list.pairs.len()), (1, 1));
    assert_eq!([list.pairs[0].contacts[0].contact.id, list.pairs[0].contacts[1].contact.id], [a, b]);
    assert_eq!(duplicate_pairs(&db, ACCOUNT, 1, 0.85).unwrap().total, 1);
    assert_eq!(duplicate_pairs(&db, ACCOUNT, 1, 0.86).unwrap().total, 0);
    assert_eq!(duplicate_pairs(&db, ACCOUNT, 2, 0.0).unwrap().pairs, []);
}

#[test]
fn an_update_that_breaks_the_likeness_removes_the_suggestion() {
    let db = MemoryDb::default();
    let a = create(&db, ACCOUNT, "Jo Doe", Some("jo.doe@acme.example"));
    create(&db, ACCOUNT, "Jo Doe", Some("jo.doe@gmail.com"));
    let changes = ContactChanges {
        name: Some("Zed Zulu".into()),
        email: Some(Some("zz@acme.example".into())),
        ..ContactChanges::default()
    };
    update_contact(&db, ACCOUNT, a, changes).unwrap();
    assert_eq!(contact_duplicates(&db, ACCOUNT, a).unwrap(), []);
    // an update of what the rules do not read leaves the suggestions alone
    let c = create(&db, ACCOUNT, "Zed Zulu", Some("zz@gmail.com"));
    assert_eq!(contact_duplicates(&db, ACCOUNT, c).unwrap().len(), 1);
    update_contact(&db, ACCOUNT, c, ContactChanges { blocked: Some(true), ..ContactChanges::default() }).unwrap();
    assert_eq!(contact_duplicates(&db, ACCOUNT, c).unwrap().len(), 1);
}

#[test]
fn a_dismissed_pair_never_returns() {
    let db = MemoryDb::default();
    let a = create(&db, ACCOUNT, "Jo Doe", Some("jo.doe@acme.example"));
    let b = create(&db, ACCOUNT, "Jo Doe", Some("jo.doe@gmail.com"));
    assert_eq!(dismiss_duplicate(&db, admin(), [b, a]).unwrap(), [a, b]);
    assert_eq!(dismiss_duplicate(&db, admin(), [a, b]).unwrap(), [a, b], "again: nothing changes");
    assert_eq!(contact_duplicates(&db, ACCOUNT, a).unwrap(), []);
    update_contact(&db, ACCOUNT, b, ContactChanges { name: Some("Jo  Doe".into()), ..ContactChanges::default() })
        .unwrap();
    assert_eq!(contact_duplicates(&db, ACCOUNT, b).unwrap(), []);
    rebuild_duplicates(&db, ACCOUNT, &mut |_, _| {}).unwrap();
    assert_eq!(duplicate_pairs(&db, ACCOUNT, 1, 0.0).unwrap().total, 0);
}

#[test]
fn dismiss_refuses_one_contact_twice_and_contacts_not_in_the_account() {
    let db = MemoryDb::default();
    let a = create(&db, ACCOUNT, "Jo Doe", None);
    let elsewhere = create(&db, OTHER_ACCOUNT, "Jo Doe", None);
    let Err(DuplicatesError::Invalid(v)) = dismiss_duplicate(&db, admin(), [a, a]) else { panic!("same id") };
    assert_eq!(v.into_vec()[0].field, "contact_ids");
    assert_eq!(
        dismiss_duplicate(&db, admin(), [a, elsewhere]),
        Err(DuplicatesError::NotFound { field: "contact_ids" })
    );
    assert_eq!(contact_duplicates(&db, ACCOUNT, elsewhere), Err(DuplicatesError::NotFound { field: "id" }));
    let Err(DuplicatesError::Invalid(v)) = duplicate_pairs(&db, ACCOUNT, 0, 1.5) else { panic!("bad query") };
    let fields: Vec<String> = v.into_vec().into_iter().map(|v| v.field).collect();
    assert_eq!(fields, ["page", "min_confidence"]);
}

#[test]
fn merge_delete_and_undo_keep_the_suggestions_right() {
    let db = MemoryDb::default();
    let a = create(&db, ACCOUNT, "Jo Doe", Some("jo.doe@acme.example"));
    let b = create(&db, ACCOUNT, "Jo Doe", Some("jo.doe@gmail.com"));
    let c = create(&db, ACCOUNT, "Jo Doe", None);
    assert_eq!(duplicate_pairs(&db, ACCOUNT, 1, 0.0).unwrap().total, 3);
    let cmd = MergeContacts {
        account_id: ACCOUNT,
        actor: UserId::new(7),
        base_contact_id: a,
        mergee_contact_id: b,
        choices: Default::default(),
    };
    let merge_id = merge_contacts(&db, cmd).unwrap().merge_id.unwrap();
    let pairs = duplicate_pairs(&db, ACCOUNT, 1, 0.0).unwrap();
    assert_eq!(pairs.total, 1, "only a–c is left");
    assert_eq!(contact_duplicates(&db, ACCOUNT, b), Err(DuplicatesError::Merged { field: "id", into: a }));

    undo_merge(&db, UndoMerge { account_id: ACCOUNT, actor: UserId::new(7), merge_id, window: Duration::days(1) })
        .unwrap();
    let of_a: Vec<ContactId> =
        contact_duplicates(&db, ACCOUNT, a).unwrap().into_iter().map(|s| s.contact.contact.id).collect();
    assert_eq!(of_a, [c], "the undone pair is dismissed");
    assert_eq!(contact_duplicates(&db, ACCOUNT, b).unwrap().len(), 1, "b–c is back");

    delete_contact(&db, admin(), c).unwrap();
    assert_eq!(duplicate_pairs(&db, ACCOUNT, 1, 0.0).unwrap().total, 0);
}

#[test]
fn rebuild_recomputes_the_account_and_reports_progress() {
    let db = MemoryDb::default();
    for i in 0..5 {
        create(&db, ACCOUNT, "Jo Doe", Some(&format!("jo.doe{i}@acme.example")));
    }
    db.lock().duplicate_pairs.clear();
    let mut seen = Vec::new();
    let outcome = rebuild_duplicates(&db, ACCOUNT, &mut |done, total| seen.push((done, total))).unwrap();
    assert_eq!(outcome, RebuildOutcome { contacts: 5, pairs_before: 0 });
    assert_eq!(seen, [(5, 5)]);
    assert_eq!(duplicate_pairs(&db, ACCOUNT, 1, 0.0).unwrap().total, 10);
}

#[test]
fn changes_only_queue_the_contact_and_the_worker_refreshes_it() {
    let db = MemoryDb::default();
    let a = create(&db, ACCOUNT, "Jo Doe", Some("jo.doe@acme.example"));
    let b = create(&db, ACCOUNT, "Jo Doe", Some("jo.doe@gmail.com"));
    assert_eq!(db.lock().duplicate_refreshes, [(ACCOUNT, a), (ACCOUNT, b)]);
    assert_eq!(super::contact_duplicates(&db, ACCOUNT, a).unwrap(), [], "nothing computed in the request");
    let round = refresh_queued(&db, 1).unwrap();
    assert_eq!(round, QueueRound { account: Some(ACCOUNT), done: Refreshed { refreshed: 1, requeued: 0 } });
    let round = refresh_queued(&db, 10).unwrap();
    assert_eq!(round.done.refreshed, 1);
    assert_eq!(refresh_queued(&db, 10).unwrap(), QueueRound::default(), "the queue is empty");
    assert_eq!(super::contact_duplicates(&db, ACCOUNT, a).unwrap().len(), 1);
    // an update of what the rules do not read queues nothing
    update_contact(&db, ACCOUNT, a, ContactChanges { blocked: Some(true), ..ContactChanges::default() }).unwrap();
    assert_eq!(db.lock().duplicate_refreshes, []);
}
