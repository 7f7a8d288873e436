//! The undo use case against the in-memory ports.

use chrono::Duration;
use domain::{AccountId, ContactAttributes, ContactId, UserId};
use serde_json::json;

use super::*;
use crate::memory::{MemoryDb, State};
use crate::merge_contacts::{merge_contacts, MergeContacts};
use crate::ports::{MovedCounts, Sender};

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

fn merge(db: &MemoryDb, base: ContactId, mergee: ContactId) -> i64 {
    let cmd = MergeContacts {
        account_id: ACCOUNT,
        actor: UserId::new(7),
        base_contact_id: base,
        mergee_contact_id: mergee,
        choices: Default::default(),
    };
    merge_contacts(db, cmd).unwrap().merge_id.unwrap()
}

fn undo_cmd(merge_id: i64) -> UndoMerge {
    UndoMerge { account_id: ACCOUNT, actor: UserId::new(8), merge_id, window: Duration::days(30) }
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
        let base = s.add_contact(ACCOUNT, attrs("", None, None, Some("base-id")));
        let mut m = attrs("Mergee", Some("m@example.com"), Some("+4930123"), Some("m-id"));
        m.custom_attributes.insert("deep".into(), json!({"a": {"b": [1, 2]}, "c": null}));
        m.additional_attributes.insert("city".into(), json!("Paris"));
        let mergee = s.add_contact(ACCOUNT, m);
        s.add_children(ACCOUNT, base, "vip");
        s.add_children(ACCOUNT, mergee, "vip");
        s.add_children(ACCOUNT, mergee, "lead");
        (base, mergee)
    };
    World { db, base, mergee }
}

/// Every fact of the contacts and their children that a merge and its undo touch, in a stable order, without
/// `updated_at`, the records and the events.
fn facts_of(s: &State) -> serde_json::Value {
    let mut contacts: Vec<_> = s
        .contacts
        .iter()
        .map(|c| {
            format!(
                "{:?} {:?} {} {:?} {:?} {:?}",
                c.id, c.attributes, c.blocked, c.thumbnail, c.last_activity_at, c.created_at
            )
        })
        .collect();
    contacts.sort();
    let mut conversations: Vec<_> = s.conversations.iter().map(|c| (c.id.get(), c.contact_id.get())).collect();
    conversations.sort_unstable();
    let mut messages: Vec<_> = s.messages.iter().map(|m| (m.id, format!("{:?}", m.sender))).collect();
    messages.sort();
    let mut inboxes: Vec<_> = s.contact_inboxes.iter().map(|(_, ci)| (ci.id, ci.contact_id.get())).collect();
    inboxes.sort_unstable();
    let mut notes: Vec<_> = s.notes.iter().map(|n| (n.id.get(), n.contact_id.get())).collect();
    notes.sort_unstable();
    let mut labels: Vec<_> = s.labels.iter().map(|(_, c, l)| (c.get(), l.clone())).collect();
    labels.sort();
    let mut identities: Vec<_> = s
        .identities
        .iter()
        .map(|(_, i)| format!("{} {} {} {} {} {:?}", i.id, i.contact_id, i.kind, i.value, i.primary, i.source))
        .collect();
    identities.sort();
    json!({"contacts": contacts, "conversations": conversations, "messages": messages, "contact_inboxes": inboxes,
           "notes": notes, "labels": labels, "identities": identities})
}

#[test]
fn undo_restores_both_contacts_and_every_row() {
    let w = world();
    let before = facts_of(&w.db.snapshot());
    let id = merge(&w.db, w.base, w.mergee);
    let out = undo_merge(&w.db, undo_cmd(id)).unwrap();
    let s = w.db.snapshot();
    assert_eq!(facts_of(&s), before, "merge then undo is the identity on contacts and children");
    assert_eq!(before["identities"].as_array().map(Vec::len), Some(4), "the base's identifier, the mergee's three");

    assert_eq!((out.base.id, out.mergee.id), (w.base, w.mergee));
    assert_eq!(out.mergee.attributes.email.as_deref(), Some("m@example.com"));
    assert_eq!(out.base.attributes.email, None, "the email the base inherited went back");
    assert_eq!(out.mergee_inboxes.len(), 2);
    let two = MovedCounts { conversations: 2, messages: 2, contact_inboxes: 2, notes: 2, labels: 2 };
    assert_eq!(out.counts.moved_back, two);
    assert_eq!(out.counts.deleted_since, MovedCounts::default());
    assert_eq!(out.counts.kept_on_base, MovedCounts::default());
    assert!(out.conflicts.is_empty());

    let meta = &s.merge_meta[0];
    assert!(meta.undone_at.is_some());
    assert_eq!(meta.undone_by, Some(UserId::new(8)));
    assert_eq!(meta.undo_counts.as_ref().unwrap()["moved_back"]["conversations"], json!(2));
    let (_, name, event) = s.events.last().unwrap();
    assert_eq!(name, "contact.unmerged");
    assert_eq!(event["merge_id"], json!(id));
    assert_eq!(event["mergee_contact_id"], json!(w.mergee.get()));
    assert_eq!(event["moved_back"]["labels"], json!(2));
}

#[test]
fn activity_after_the_merge_stays_on_the_base_and_is_reported() {
    let w = world();
    let id = merge(&w.db, w.base, w.mergee);
    {
        let mut s = w.db.lock();
        // a new conversation (with a message, note, contact inbox and label) on the base, and an edited phone
        s.add_children(ACCOUNT, w.base, "new-label");
        s.edit_contact(w.base, |a| a.phone_number = Some("+4930999".into()));
        // one moved row deleted since
        let note = s.notes.iter().position(|n| n.contact_id == w.base).unwrap();
        s.notes.remove(note);
    }
    let out = undo_merge(&w.db, undo_cmd(id)).unwrap();
    assert_eq!(
        out.counts.kept_on_base,
        MovedCounts { conversations: 1, messages: 1, contact_inboxes: 1, notes: 1, labels: 1 }
    );
    assert_eq!(out.conflicts.len(), 1);
    let c = &out.conflicts[0];
    assert_eq!(
        (c.field, &c.kept, &c.merge_wrote, &c.before_merge),
        ("phone_number", &json!("+4930999"), &json!("+4930123"), &json!(null))
    );
    assert_eq!(out.base.attributes.phone_number.as_deref(), Some("+4930999"), "the later edit is kept");
    assert_eq!(out.base.attributes.email, None, "what was not edited again is restored");
    assert_eq!(out.base.attributes.name, "", "the name the merge filled in is taken back");
    assert_eq!(out.mergee.attributes.phone_number.as_deref(), Some("+4930123"));
    // the first note of the base was the base's own, so the deleted one may be either; the totals hold
    let s = w.db.snapshot();
    assert_eq!(out.counts.moved_back.notes + out.counts.deleted_since.notes, 2);
    let labels: Vec<&str> = s.labels.iter().filter(|l| l.1 == w.base).map(|l| l.2.as_str()).collect();
    assert!(labels.contains(&"new-label") && labels.contains(&"vip") && !labels.contains(&"lead"), "{labels:?}");
}

#[test]
fn a_later_merge_of_the_base_must_be_undone_first() {
    let w = world();
    let third = w.db.lock().add_contact(ACCOUNT, attrs("Third", None, None, None));
    let before = facts_of(&w.db.snapshot());
    let first = merge(&w.db, w.base, w.mergee);
    let second = merge(&w.db, third, w.base);
    let unchanged = w.db.snapshot();
    assert_eq!(undo_merge(&w.db, undo_cmd(first)), Err(UndoError::Superseded { base: w.base.get(), by: second }));
    assert_eq!(w.db.snapshot(), unchanged);
    undo_merge(&w.db, undo_cmd(second)).unwrap();
    undo_merge(&w.db, undo_cmd(first)).unwrap();
    assert_eq!(facts_of(&w.db.snapshot()), before, "all three contacts are back as they were");
}

#[test]
fn every_refusal_changes_nothing() {
    let w = world();
    let id = merge(&w.db, w.base, w.mergee);
    let check = |cmd: UndoMerge, expected: UndoError| {
        let before = w.db.snapshot();
        assert_eq!(undo_merge(&w.db, cmd), Err(expected.clone()), "{cmd:?}");
        assert_eq!(preview_undo(&w.db, cmd), Err(expected), "the preview refuses alike: {cmd:?}");
        assert_eq!(w.db.snapshot(), before);
    };
    check(undo_cmd(999), UndoError::NotFound);
    check(UndoMerge { account_id: OTHER_ACCOUNT, ..undo_cmd(id) }, UndoError::NotFound);
    check(UndoMerge { window: Duration::days(-1), ..undo_cmd(id) }, UndoError::WindowPassed { days: -1 });

    // another contact took the mergee's identifier (after the base's secondary copy of it was deleted)
    let kept = w.db.lock().identities.clone();
    w.db.lock().identities.retain(|(_, i)| i.value != "m-id");
    let third = w.db.lock().add_contact(ACCOUNT, attrs("Third", None, None, Some("m-id")));
    check(undo_cmd(id), UndoError::Conflict { field: "identifier" });
    w.db.lock().contacts.retain(|c| c.id != third);
    w.db.lock().identities = kept;

    // a merge recorded before the ledger
    let ledger = w.db.lock().merges[0].ledger.take();
    check(undo_cmd(id), UndoError::NotUndoable);
    w.db.lock().merges[0].ledger = ledger;

    // a record whose mergee snapshot names another contact (or account) than the record itself
    let snapshot = w.db.lock().merges[0].mergee_snapshot.clone();
    w.db.lock().merges[0].mergee_snapshot["id"] = json!(w.base.get());
    check(undo_cmd(id), UndoError::NotUndoable);
    w.db.lock().merges[0].mergee_snapshot["account_id"] = json!(OTHER_ACCOUNT.get());
    w.db.lock().merges[0].mergee_snapshot["id"] = snapshot["id"].clone();
    check(undo_cmd(id), UndoError::NotUndoable);
    w.db.lock().merges[0].mergee_snapshot = snapshot;

    // the base took the mergee's old identifier after the merge (the merge wrote none: the base had its own); the
    // mergee cannot get it back while the base holds it, and the unique index says so
    let set_identifier = |value: &str| {
        let mut s = w.db.lock();
        s.edit_contact(w.base, |a| a.identifier = Some(value.into()));
    };
    set_identifier("m-id");
    check(undo_cmd(id), UndoError::Conflict { field: "identifier" });
    set_identifier("base-id");
    undo_merge(&w.db, undo_cmd(id)).unwrap();
    check(undo_cmd(id), UndoError::AlreadyUndone);
}

#[test]
fn a_text_value_the_merge_overwrote_comes_back() {
    let base =
        domain::Contact { attributes: attrs("Jo", Some("new@example.com"), Some("+4930999"), None), ..world_contact() };
    let written = json!({
        "email": {"before": "old@example.com", "after": "new@example.com"},
        "phone_number": {"before": "+4930111", "after": "+4930222"},
        "additional_attributes": {"before": {"a": 1}, "after": {}}
    });
    let (restored, conflicts) = restore_attributes(&base, &written).unwrap();
    assert_eq!(restored.email.as_deref(), Some("old@example.com"), "unchanged since the merge: restored");
    assert_eq!(restored.phone_number.as_deref(), Some("+4930999"), "changed since the merge: kept");
    assert_eq!(restored.additional_attributes.get("a"), Some(&json!(1)));
    assert_eq!(conflicts.len(), 1);
    assert_eq!(
        (conflicts[0].field, &conflicts[0].kept, &conflicts[0].merge_wrote, &conflicts[0].before_merge),
        ("phone_number", &json!("+4930999"), &json!("+4930222"), &json!("+4930111"))
    );
    // a value of the wrong type is no ledger the merge wrote
    assert!(restore_attributes(&base, &json!({"email": {"before": 7, "after": "new@example.com"}})).is_none());
    assert!(restore_attributes(&base, &json!({"blocked": {"before": true, "after": false}})).is_none());
}

fn world_contact() -> domain::Contact {
    let w = world();
    let s = w.db.snapshot();
    s.contacts.into_iter().find(|c| c.id == w.base).unwrap()
}

#[test]
fn the_mergee_old_id_is_no_longer_merged_away_after_the_undo() {
    let w = world();
    let id = merge(&w.db, w.base, w.mergee);
    let mut tx = w.db.begin().unwrap();
    assert_eq!(tx.merged_into(ACCOUNT, w.mergee).unwrap(), Some(w.base));
    drop(tx);
    undo_merge(&w.db, undo_cmd(id)).unwrap();
    let mut tx = w.db.begin().unwrap();
    assert_eq!(tx.merged_into(ACCOUNT, w.mergee).unwrap(), None);
    // and it can be merged again, then undone again
    drop(tx);
    let again = merge(&w.db, w.base, w.mergee);
    assert_ne!(again, id);
    undo_merge(&w.db, undo_cmd(again)).unwrap();
    assert_eq!(w.db.snapshot().contacts.iter().filter(|c| c.id == w.mergee).count(), 1);
}

#[test]
fn preview_agrees_with_the_undo_and_writes_nothing() {
    let w = world();
    let id = merge(&w.db, w.base, w.mergee);
    let before = w.db.snapshot();
    let preview = preview_undo(&w.db, undo_cmd(id)).unwrap();
    assert_eq!(w.db.snapshot(), before, "a preview writes nothing");
    let done = undo_merge(&w.db, undo_cmd(id)).unwrap();
    assert_eq!(preview.counts, done.counts);
    assert_eq!(preview.conflicts, done.conflicts);
    assert_eq!(preview.base.attributes, done.base.attributes);
    assert_eq!(preview.mergee.attributes, done.mergee.attributes);
}

#[test]
fn messages_keep_their_sender() {
    let w = world();
    let id = merge(&w.db, w.base, w.mergee);
    undo_merge(&w.db, undo_cmd(id)).unwrap();
    let s = w.db.snapshot();
    let from_mergee = s.messages.iter().filter(|m| m.sender == Sender::Contact(w.mergee)).count();
    assert_eq!(from_mergee, 2);
}
