//! The identities use cases against the in-memory ports.

use domain::{AccountId, ContactAttributes, IdentitySource};

use super::*;
use crate::memory::MemoryDb;
use crate::ports::in_transaction;

const ACCOUNT: AccountId = AccountId::new(1);
const OTHER_ACCOUNT: AccountId = AccountId::new(2);

fn attrs(email: Option<&str>, phone: Option<&str>) -> ContactAttributes {
    ContactAttributes {
        email: email.map(Into::into),
        phone_number: phone.map(Into::into),
        ..ContactAttributes::default()
    }
}

fn add(db: &MemoryDb, contact: ContactId, kind: IdentityKind, value: &str) -> Result<Identity, ContactsError> {
    in_transaction(db, |tx| add_identity_in(tx, ACCOUNT, contact, kind, value))
}

fn taken(field: &str, holder: ContactId) -> ContactsError {
    let mut v = Violations::default();
    v.push_taken(field, holder);
    ContactsError::Invalid(v)
}

#[test]
fn a_secondary_is_added_normalized_listed_after_the_primaries_and_found() {
    let db = MemoryDb::default();
    let ada = db.lock().add_contact(ACCOUNT, attrs(Some("ada@example.com"), None));
    let added = add(&db, ada, IdentityKind::PhoneNumber, "+49 151 1234-5678").unwrap();
    assert_eq!((added.value.as_str(), added.primary, added.source), ("+4915112345678", false, IdentitySource::Api));
    let listed = list_identities(&db, ACCOUNT, ada).unwrap();
    let kinds: Vec<(IdentityKind, bool)> = listed.iter().map(|i| (i.kind, i.primary)).collect();
    assert_eq!(kinds, [(IdentityKind::Email, true), (IdentityKind::PhoneNumber, false)]);
    let found = lookup_contact(&db, ACCOUNT, IdentityKind::PhoneNumber, "+49 (0)151 12345678").unwrap();
    assert_eq!(found.contact.id, ada);
    let found = lookup_contact(&db, ACCOUNT, IdentityKind::Email, "ADA@example.com").unwrap();
    assert_eq!(found.contact.id, ada);
    assert_eq!(
        lookup_contact(&db, OTHER_ACCOUNT, IdentityKind::Email, "ada@example.com").map(|c| c.contact.id),
        Err(ContactsError::NotFound { field: "email", entity: "contact" })
    );
}

#[test]
fn a_held_value_is_taken_naming_its_holder_and_nothing_is_written() {
    let db = MemoryDb::default();
    let ada = db.lock().add_contact(ACCOUNT, attrs(Some("ada@example.com"), None));
    let bob = db.lock().add_contact(ACCOUNT, attrs(None, Some("+4930111")));
    let before = db.snapshot();
    assert_eq!(add(&db, ada, IdentityKind::PhoneNumber, "+4930111"), Err(taken("value", bob)));
    assert_eq!(add(&db, ada, IdentityKind::Email, "Ada@Example.com"), Err(taken("value", ada)));
    let bad = add(&db, ada, IdentityKind::PhoneNumber, "030111");
    assert!(matches!(&bad, Err(ContactsError::Invalid(v)) if v.as_slice()[0].code == "invalid_format"), "{bad:?}");
    assert_eq!(
        add(&db, ContactId::new(999), IdentityKind::Email, "x@y.co"),
        Err(ContactsError::NotFound { field: "id", entity: "contact" })
    );
    assert_eq!(db.snapshot(), before);
    // a contact write naming the value is refused alike
    let mut tx = db.begin().unwrap();
    assert_eq!(
        crate::contacts::check_holders(tx.as_mut(), ACCOUNT, &attrs(None, Some("+4930111")), Some(ada)),
        Err(taken("phone_number", bob))
    );
    assert_eq!(crate::contacts::check_holders(tx.as_mut(), ACCOUNT, &attrs(None, Some("+4930111")), Some(bob)), Ok(()));
}

#[test]
fn only_secondaries_are_deleted() {
    let db = MemoryDb::default();
    let ada = db.lock().add_contact(ACCOUNT, attrs(Some("ada@example.com"), None));
    let bob = db.lock().add_contact(ACCOUNT, attrs(Some("bob@example.com"), None));
    let secondary = add(&db, ada, IdentityKind::Email, "ada@old.example").unwrap();
    let primary = list_identities(&db, ACCOUNT, ada).unwrap()[0].id;
    assert_eq!(
        delete_identity(&db, ACCOUNT, ada, primary),
        Err(ContactsError::PrimaryIdentity { kind: IdentityKind::Email })
    );
    assert_eq!(
        delete_identity(&db, ACCOUNT, bob, secondary.id),
        Err(ContactsError::NotFound { field: "identity_id", entity: "identity" })
    );
    assert_eq!(delete_identity(&db, ACCOUNT, ada, secondary.id), Ok(()));
    assert_eq!(list_identities(&db, ACCOUNT, ada).unwrap().len(), 1);
    assert_eq!(
        list_identities(&db, ACCOUNT, ContactId::new(999)),
        Err(ContactsError::NotFound { field: "id", entity: "contact" })
    );
}
