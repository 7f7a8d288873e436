//! The merge use case against the in-memory ports.

use domain::{AccountId, ContactAttributes, ContactId, UserId};
use serde_json::json;

use super::*;
use crate::memory::MemoryDb;

const ACCOUNT: AccountId = AccountId::new(1);
const OTHER_ACCOUNT: AccountId = AccountId::new(2);

fn attrs(name: &str, email: Option<&str>, phone: Option<&str>, identifier: Option<&str>) -> ContactAttributes {
    ContactAttributes {
        name: name.into(),
        email: email.map(Into::into),
        phone_number: phone.map(Into::into),
        identifier: identifier.map(Into::into),
        ..ContactAttributes::default()
    }
}

fn cmd(base: ContactId, mergee: ContactId) -> MergeContacts {
    MergeContacts {
        account_id: ACCOUNT,
        actor: UserId::new(7),
        base_contact_id: base,
        mergee_contact_id: mergee,
        choices: Default::default(),
    }
}

struct World {
    db: MemoryDb,
    base: ContactId,
    mergee: ContactId,
}

fn world() -> World {
    let db = MemoryDb::default();
    let (base, mergee) = {
        let mut s = db.lock();
        let base = s.add_contact(ACCOUNT, attrs("Base", None, None, Some("base-id")));
        let mergee = s.add_contact(ACCOUNT, attrs("Mergee", Some("m@example.com"), Some("+4930123"), Some("m-id")));
        s.add_children(ACCOUNT, base, "vip");
        s.add_children(ACCOUNT, mergee, "vip");
        s.add_children(ACCOUNT, mergee, "lead");
        (base, mergee)
    };
    World { db, base, mergee }
}

#[test]
fn merge_moves_everything_and_records_it() {
    let w = world();
    let out = merge_contacts(&w.db, cmd(w.base, w.mergee)).unwrap();
    let s = w.db.snapshot();

    assert_eq!(out.contact.id, w.base);
    assert_eq!(out.contact.attributes.email.as_deref(), Some("m@example.com"));
    assert_eq!(out.contact.attributes.phone_number.as_deref(), Some("+4930123"));
    assert_eq!(out.contact.attributes.identifier.as_deref(), Some("base-id"));
    assert_eq!(out.contact.attributes.name, "Base");
    assert_eq!(out.contact_inboxes.len(), 3);
    assert_eq!(out.moved, MovedCounts { conversations: 2, messages: 2, contact_inboxes: 2, notes: 2, labels: 2 });

    assert!(s.contacts.iter().all(|c| c.id != w.mergee), "the mergee is deleted");
    assert!(s.conversations.iter().all(|r| r.contact_id == w.base));
    assert!(s.messages.iter().all(|r| r.sender == crate::ports::Sender::Contact(w.base)));
    assert!(s.notes.iter().all(|r| r.contact_id == w.base));
    let mut labels: Vec<&str> = s.labels.iter().map(|l| l.2.as_str()).collect();
    labels.sort_unstable();
    assert_eq!(labels, ["lead", "vip"], "labels are a union without duplicates");

    assert_eq!(s.merges.len(), 1);
    let record = &s.merges[0];
    assert_eq!(record.actor, Some(UserId::new(7)));
    assert_eq!((record.base_contact_id, record.mergee_contact_id), (w.base, w.mergee));
    assert_eq!(record.mergee_snapshot["email"], json!("m@example.com"));
    assert_eq!(record.moved, out.moved);
    assert_eq!(s.events.len(), 1);
    assert_eq!(s.events[0].1, "contact.merged");
    assert_eq!(s.events[0].2["mergee_contact_id"], json!(w.mergee.get()));
    assert_eq!(s.events[0].2["moved"]["labels"], json!(2));
    assert_eq!(out.merge_id, Some(1));
}

#[test]
fn self_merge_changes_nothing() {
    let w = world();
    let before = w.db.snapshot();
    let out = merge_contacts(&w.db, cmd(w.mergee, w.mergee)).unwrap();
    assert_eq!(out.contact.id, w.mergee);
    assert_eq!(out.merge_id, None);
    assert_eq!(out.contact_inboxes.len(), 2);
    assert_eq!(w.db.snapshot(), before);
}

#[test]
fn unknown_or_foreign_contacts_are_not_found_and_change_nothing() {
    let w = world();
    let foreign = w.db.lock().add_contact(OTHER_ACCOUNT, attrs("Elsewhere", None, None, None));
    let before = w.db.snapshot();
    let missing = ContactId::new(999);
    let cases = [
        (cmd(missing, w.mergee), vec![("base_contact_id", None)]),
        (cmd(w.base, missing), vec![("mergee_contact_id", None)]),
        (cmd(missing, ContactId::new(998)), vec![("base_contact_id", None), ("mergee_contact_id", None)]),
        (cmd(w.base, foreign), vec![("mergee_contact_id", None)]),
        (cmd(foreign, w.base), vec![("base_contact_id", None)]),
        (cmd(missing, missing), vec![("base_contact_id", None), ("mergee_contact_id", None)]),
    ];
    for (c, fields) in cases {
        assert_eq!(merge_contacts(&w.db, c), Err(MergeContactsError::NotFound { fields }), "{c:?}");
    }
    assert_eq!(w.db.snapshot(), before);
}

#[test]
fn invalid_merged_contact_writes_nothing() {
    let w = world();
    let bad = {
        let mut s = w.db.lock();
        // a row that bypassed validation (imported straight into the database)
        let bad = s.add_contact(ACCOUNT, attrs("Bad", None, Some("0049-30"), None));
        s.add_children(ACCOUNT, bad, "x");
        bad
    };
    let before = w.db.snapshot();
    let err = merge_contacts(&w.db, cmd(w.base, bad)).unwrap_err();
    let MergeContactsError::Invalid(v) = err else { panic!("expected Invalid, got {err:?}") };
    assert_eq!(v.as_slice()[0].field, "phone_number");
    assert_eq!(v.as_slice()[0].code, "invalid_format");
    assert_eq!(w.db.snapshot(), before);
}

#[test]
fn uniqueness_failure_after_the_moves_rolls_everything_back() {
    let w = world();
    let mergee = {
        let mut s = w.db.lock();
        // upper case survives in a row imported without normalization; merged, it becomes the third's email
        s.add_contact(ACCOUNT, attrs("Third", Some("dup@example.com"), None, None));
        let m = s.add_contact(ACCOUNT, attrs("Upper", Some("DUP@example.com"), None, None));
        s.add_children(ACCOUNT, m, "y");
        m
    };
    let before = w.db.snapshot();
    let err = merge_contacts(&w.db, cmd(w.base, mergee)).unwrap_err();
    assert_eq!(
        err,
        MergeContactsError::Invalid(Violations::one("email", "taken", "has already been taken by another contact"))
    );
    assert_eq!(w.db.snapshot(), before, "moves made before the failure are rolled back");
}

#[test]
fn merged_away_ids_point_to_where_the_contact_lives_now() {
    let w = world();
    let third = w.db.lock().add_contact(ACCOUNT, attrs("Third", None, None, None));
    merge_contacts(&w.db, cmd(w.base, w.mergee)).unwrap();
    merge_contacts(&w.db, cmd(third, w.base)).unwrap();
    // mergee went into base, base into third: both old ids resolve to third
    let err = merge_contacts(&w.db, cmd(w.mergee, third)).unwrap_err();
    assert_eq!(err, MergeContactsError::NotFound { fields: vec![("base_contact_id", Some(third))] });
    let err = merge_contacts(&w.db, cmd(third, w.base)).unwrap_err();
    assert_eq!(err, MergeContactsError::NotFound { fields: vec![("mergee_contact_id", Some(third))] });
}

#[test]
fn preview_agrees_with_the_merge_and_writes_nothing() {
    use crate::merge_preview::preview_merge;
    let w = world();
    let before = w.db.snapshot();
    let preview = preview_merge(&w.db, cmd(w.base, w.mergee)).unwrap();
    assert_eq!(w.db.snapshot(), before, "a preview writes nothing");
    let fields: Vec<&str> = preview.changes.iter().map(|c| c.field).collect();
    assert_eq!(fields, ["email", "phone_number"]);
    let merged = merge_contacts(&w.db, cmd(w.base, w.mergee)).unwrap();
    assert_eq!((preview.contact.id, &preview.contact.attributes), (merged.contact.id, &merged.contact.attributes));
    assert_eq!(preview.moves, merged.moved);
    assert_eq!(preview.contact_inboxes.len(), merged.contact_inboxes.len());
}

#[test]
fn preview_refuses_what_the_merge_would_refuse() {
    use crate::merge_preview::preview_merge;
    let w = world();
    let mergee = {
        let mut s = w.db.lock();
        s.add_contact(ACCOUNT, attrs("Third", Some("dup@example.com"), None, None));
        s.add_contact(ACCOUNT, attrs("Upper", Some("DUP@example.com"), None, None))
    };
    let preview = preview_merge(&w.db, cmd(w.base, mergee)).unwrap_err();
    let merge = merge_contacts(&w.db, cmd(w.base, mergee)).unwrap_err();
    assert_eq!(preview, merge);
}
