//! The merge history against the in-memory ports: newest first, paged, per contact, per account.

use domain::{AccountId, ContactAttributes, ContactId, UserId};

use super::*;
use crate::memory::MemoryDb;
use crate::merge_contacts::{merge_contacts, MergeContacts};

const ACCOUNT: AccountId = AccountId::new(1);
const OTHER_ACCOUNT: AccountId = AccountId::new(2);

/// Merges `n` pairs of fresh contacts in the account; returns the (base, mergee) pairs in merge order.
fn merged_pairs(db: &MemoryDb, n: usize) -> Vec<(ContactId, ContactId)> {
    (0..n)
        .map(|i| {
            let (base, mergee) = {
                let mut s = db.lock();
                let named = |name: String| ContactAttributes { name, ..ContactAttributes::default() };
                (s.add_contact(ACCOUNT, named(format!("Base {i}"))), s.add_contact(ACCOUNT, named(format!("M {i}"))))
            };
            let cmd = MergeContacts {
                account_id: ACCOUNT,
                actor: UserId::new(7),
                base_contact_id: base,
                mergee_contact_id: mergee,
                choices: Default::default(),
            };
            merge_contacts(db, cmd).unwrap();
            (base, mergee)
        })
        .collect()
}

fn ids(entries: &[MergeEntry]) -> Vec<i64> {
    entries.iter().map(|e| e.id).collect()
}

#[test]
fn the_history_is_paged_newest_first() {
    let db = MemoryDb::default();
    let pairs = merged_pairs(&db, 17);
    let (first, total) = list_merges(&db, ACCOUNT, None, 1).unwrap();
    assert_eq!((first.len(), total), (15, 17));
    let mergees: Vec<ContactId> = first.iter().map(|e| e.mergee_contact_id).collect();
    let newest: Vec<ContactId> = pairs.iter().rev().take(15).map(|p| p.1).collect();
    assert_eq!(mergees, newest);
    assert_eq!(first[0].actor, Some(UserId::new(7)));

    let (second, total) = list_merges(&db, ACCOUNT, None, 2).unwrap();
    assert_eq!(total, 17);
    let oldest: Vec<(ContactId, ContactId)> = second.iter().map(|e| (e.base_contact_id, e.mergee_contact_id)).collect();
    assert_eq!(oldest, [pairs[1], pairs[0]]);
    let (third, total) = list_merges(&db, ACCOUNT, None, 3).unwrap();
    assert_eq!((third.len(), total), (0, 17));
    // page 0 is read as the first page
    let (zeroth, total) = list_merges(&db, ACCOUNT, None, 0).unwrap();
    assert_eq!(total, 17);
    assert_eq!(ids(&zeroth), ids(&first));
}

#[test]
fn the_history_of_a_contact_and_of_another_account() {
    let db = MemoryDb::default();
    let pairs = merged_pairs(&db, 3);
    // a merge is in the history of both its contacts
    for contact in [pairs[1].0, pairs[1].1] {
        let (entries, total) = list_merges(&db, ACCOUNT, Some(contact), 1).unwrap();
        assert_eq!(total, 1);
        assert_eq!((entries[0].base_contact_id, entries[0].mergee_contact_id), pairs[1]);
    }
    let (elsewhere, total) = list_merges(&db, OTHER_ACCOUNT, None, 1).unwrap();
    assert_eq!((elsewhere.len(), total), (0, 0));
}

#[test]
fn one_record_is_found_only_in_its_account() {
    let db = MemoryDb::default();
    let pairs = merged_pairs(&db, 2);
    let (entries, _) = list_merges(&db, ACCOUNT, None, 1).unwrap();
    let newest = get_merge(&db, ACCOUNT, entries[0].id).unwrap();
    assert_eq!(newest.id, entries[0].id);
    assert_eq!((newest.base_contact_id, newest.mergee_contact_id), pairs[1]);
    assert_eq!(get_merge(&db, OTHER_ACCOUNT, newest.id), Err(MergeHistoryError::NotFound));
    assert_eq!(get_merge(&db, ACCOUNT, 999), Err(MergeHistoryError::NotFound));
}

#[test]
fn storage_errors_are_unavailable_or_internal() {
    assert_eq!(MergeHistoryError::from(StoreError::Unavailable("down".into())), MergeHistoryError::Unavailable);
    assert_eq!(
        MergeHistoryError::from(StoreError::Other("boom".into())),
        MergeHistoryError::Internal("storage failure: boom".into())
    );
}
