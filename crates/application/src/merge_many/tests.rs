//! The many-contact merge against the in-memory ports.

use domain::{ContactAttributes, Pick};

use super::*;
use crate::memory::MemoryDb;

const ACCOUNT: AccountId = AccountId::new(1);

fn attrs(name: &str, email: Option<&str>, phone: Option<&str>) -> ContactAttributes {
    ContactAttributes {
        name: name.into(),
        email: email.map(Into::into),
        phone_number: phone.map(Into::into),
        ..ContactAttributes::default()
    }
}

/// A base and three mergees, each with children and a label of its own.
fn world() -> (MemoryDb, ContactId, Vec<ContactId>) {
    let db = MemoryDb::default();
    let (base, mergees) = {
        let mut s = db.lock();
        let base = s.add_contact(ACCOUNT, attrs("Base", None, None));
        s.add_children(ACCOUNT, base, "base");
        let mergees: Vec<ContactId> = (1..=3)
            .map(|i| {
                let m = s.add_contact(ACCOUNT, attrs(&format!("M{i}"), Some(&format!("m{i}@example.com")), None));
                s.add_children(ACCOUNT, m, &format!("label-{i}"));
                m
            })
            .collect();
        (base, mergees)
    };
    (db, base, mergees)
}

fn cmd(base: ContactId, mergees: &[ContactId], choices: ManyChoices) -> MergeMany {
    MergeMany {
        account_id: ACCOUNT,
        actor: UserId::new(7),
        base_contact_id: base,
        mergee_contact_ids: mergees.to_vec(),
        choices,
    }
}

#[test]
fn every_mergee_is_merged_and_recorded_on_its_own() {
    let (db, base, mergees) = world();
    let out = merge_many(&db, &cmd(base, &mergees, ManyChoices::default())).unwrap();
    let s = db.snapshot();
    assert_eq!(out.contact.id, base);
    // the reference rule over the chain: the base had no email, the first mergee's is taken
    assert_eq!(out.contact.attributes.email.as_deref(), Some("m1@example.com"));
    assert_eq!(out.contact.attributes.name, "Base");
    assert_eq!(s.contacts.iter().filter(|c| c.account_id == ACCOUNT).count(), 1);
    assert!(s.conversations.iter().all(|c| c.contact_id == base));
    assert_eq!(s.labels.len(), 4);
    assert_eq!(s.merges.len(), 3);
    assert_eq!(s.events.iter().filter(|e| e.1 == "contact.merged").count(), 3);
    let recorded: Vec<(ContactId, ContactId)> =
        s.merges.iter().map(|m| (m.base_contact_id, m.mergee_contact_id)).collect();
    assert_eq!(recorded, mergees.iter().map(|m| (base, *m)).collect::<Vec<_>>());
    assert_eq!(out.merges.iter().map(|m| m.mergee_contact_id).collect::<Vec<_>>(), mergees);
    assert!(out.merges.iter().all(|m| m.moved.conversations == 1 && m.moved.labels == 1));
    assert_eq!(out.contact_inboxes.len(), 4);
}

#[test]
fn the_named_contact_wins_its_field() {
    let (db, base, mergees) = world();
    let choices = ManyChoices {
        email: Some(Pick::Contact(mergees[2])),
        name: Some(Pick::Contact(mergees[1])),
        ..ManyChoices::default()
    };
    let out = merge_many(&db, &cmd(base, &mergees, choices)).unwrap();
    assert_eq!(out.contact.attributes.email.as_deref(), Some("m3@example.com"));
    assert_eq!(out.contact.attributes.name, "M2");
}

#[test]
fn the_preview_answers_what_the_merge_does_and_writes_nothing() {
    let (db, base, mergees) = world();
    let before = db.snapshot();
    let choices = ManyChoices { email: Some(Pick::Contact(mergees[1])), ..ManyChoices::default() };
    let preview = preview_merge_many(&db, &cmd(base, &mergees, choices)).unwrap();
    assert_eq!(db.snapshot(), before);
    assert_eq!(preview.changes.iter().map(|c| c.field).collect::<Vec<_>>(), ["email"]);
    let mut out = merge_many(&db, &cmd(base, &mergees, choices)).unwrap();
    // the same outcome, but for the time of the update
    out.contact.updated_at = preview.outcome.contact.updated_at;
    assert_eq!(preview.outcome, out);
}

#[test]
fn a_bad_request_is_refused_before_anything_is_read() {
    let (db, base, mergees) = world();
    let before = db.snapshot();
    let err = merge_many(&db, &cmd(base, &[mergees[0], mergees[0]], ManyChoices::default())).unwrap_err();
    let MergeManyError::BadRequest(v) = err else { panic!("expected BadRequest, got {err:?}") };
    assert_eq!(v.as_slice()[0].field, "mergee_contact_ids[1]");
    assert_eq!(db.snapshot(), before);
}

#[test]
fn every_missing_contact_is_named_and_nothing_changes() {
    let (db, base, mergees) = world();
    merge_many(&db, &cmd(base, &mergees[..1], ManyChoices::default())).unwrap();
    let before = db.snapshot();
    let unknown = ContactId::new(999);
    let err = merge_many(&db, &cmd(base, &[mergees[1], mergees[0], unknown], ManyChoices::default())).unwrap_err();
    assert_eq!(
        err,
        MergeManyError::NotFound {
            missing: vec![
                MissingContact { field: "mergee_contact_ids[1]".into(), id: mergees[0], merged_into: Some(base) },
                MissingContact { field: "mergee_contact_ids[2]".into(), id: unknown, merged_into: None },
            ]
        }
    );
    assert_eq!(db.snapshot(), before);
}

#[test]
fn a_refusal_at_the_last_step_changes_nothing() {
    let (db, base, mergees) = world();
    let bad = {
        let mut s = db.lock();
        // a row that bypassed validation: merging it makes the base invalid, at the last step
        s.add_contact(ACCOUNT, attrs("Bad", None, Some("0049-30")))
    };
    let before = db.snapshot();
    let mut all = mergees.clone();
    all.push(bad);
    let err = merge_many(&db, &cmd(base, &all, ManyChoices::default())).unwrap_err();
    let MergeManyError::Invalid(v) = err else { panic!("expected Invalid, got {err:?}") };
    assert_eq!(v.as_slice()[0].field, "phone_number");
    assert_eq!(db.snapshot(), before);
}
