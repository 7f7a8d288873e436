//! The contact use cases against the in-memory ports.

use domain::{AccountId, ContactAttributes, ContactId, UserId};
use serde_json::{json, Value};

use super::*;
use crate::memory::MemoryDb;
use crate::ports::{ContactSortKey, Sender};

const ACCOUNT: AccountId = AccountId::new(1);
const OTHER_ACCOUNT: AccountId = AccountId::new(2);

fn member(role: Role) -> Member {
    Member { user_id: UserId::new(7), account_id: ACCOUNT, role }
}

fn named(name: &str, email: Option<&str>) -> ContactAttributes {
    ContactAttributes { name: name.into(), email: email.map(Into::into), ..ContactAttributes::default() }
}

fn object(v: Value) -> JsonObject {
    match v {
        Value::Object(m) => m,
        _ => JsonObject::new(),
    }
}

#[test]
fn create_normalizes_and_gives_a_generated_source_id_in_the_inbox() {
    let db = MemoryDb::default();
    let inbox = db.lock().add_inbox(ACCOUNT, "API");
    let cmd = CreateContact {
        fields: ContactChanges {
            name: Some("  Alice ".into()),
            email: Some(Some("Alice@Example.COM".into())),
            custom_attributes: Some(object(json!({"plan": "pro"}))),
            ..ContactChanges::default()
        },
        inbox_id: Some(inbox.id),
        source_id: None,
    };
    let created = create_contact(&db, ACCOUNT, cmd).unwrap();
    let contact = &created.contact.contact;
    assert_eq!(contact.attributes.name, "Alice");
    assert_eq!(contact.attributes.email.as_deref(), Some("alice@example.com"));
    let ci = created.contact_inbox.unwrap();
    assert_eq!(ci.inbox.id, inbox.id);
    let parts: Vec<usize> = ci.source_id.split('-').map(str::len).collect();
    assert_eq!(parts, [8, 4, 4, 4, 12], "a UUID: {}", ci.source_id);
    assert_eq!(created.contact.contact_inboxes.len(), 1);
}

#[test]
fn create_refuses_taken_values_and_foreign_inboxes_writing_nothing() {
    let db = MemoryDb::default();
    let foreign_inbox = db.lock().add_inbox(OTHER_ACCOUNT, "Elsewhere");
    db.lock().add_contact(ACCOUNT, named("Taken", Some("taken@example.com")));
    let before = db.snapshot();
    let dup = CreateContact {
        fields: ContactChanges { email: Some(Some("TAKEN@example.com".into())), ..ContactChanges::default() },
        ..CreateContact::default()
    };
    let mut taken = Violations::default();
    taken.push_taken("email", ContactId::new(2));
    assert_eq!(create_contact(&db, ACCOUNT, dup), Err(ContactsError::Invalid(taken)));
    let foreign = CreateContact { inbox_id: Some(foreign_inbox.id), ..CreateContact::default() };
    assert_eq!(
        create_contact(&db, ACCOUNT, foreign),
        Err(ContactsError::NotFound { field: "inbox_id", entity: "inbox" })
    );
    let bad_phone = CreateContact {
        fields: ContactChanges { phone_number: Some(Some("0301234".into())), ..ContactChanges::default() },
        ..CreateContact::default()
    };
    let Err(ContactsError::Invalid(v)) = create_contact(&db, ACCOUNT, bad_phone) else { panic!("expected Invalid") };
    assert_eq!(v.as_slice()[0].field, "phone_number");
    assert_eq!(db.snapshot(), before);
}

#[test]
fn update_is_partial_and_merges_attribute_objects_shallowly() {
    let db = MemoryDb::default();
    let id = db.lock().add_contact(
        ACCOUNT,
        ContactAttributes {
            name: "Bob".into(),
            email: Some("bob@example.com".into()),
            identifier: Some("bob-1".into()),
            custom_attributes: object(json!({"plan": "free", "address": {"city": "Berlin", "zip": "10115"}})),
            ..ContactAttributes::default()
        },
    );
    let changes = ContactChanges {
        email: Some(None),
        custom_attributes: Some(object(json!({"plan": "pro", "address": {"city": "Paris"}}))),
        blocked: Some(true),
        ..ContactChanges::default()
    };
    let updated = update_contact(&db, ACCOUNT, id, changes).unwrap().contact;
    assert_eq!(updated.attributes.name, "Bob", "absent fields stay");
    assert_eq!(updated.attributes.identifier.as_deref(), Some("bob-1"));
    assert_eq!(updated.attributes.email, None, "null clears");
    assert!(updated.blocked);
    // shallow: a key sent replaces the stored key's whole value
    assert_eq!(
        Value::Object(updated.attributes.custom_attributes),
        json!({"plan": "pro", "address": {"city": "Paris"}})
    );
}

#[test]
fn update_of_a_foreign_or_missing_contact_is_not_found() {
    let db = MemoryDb::default();
    let foreign = db.lock().add_contact(OTHER_ACCOUNT, named("Elsewhere", None));
    for id in [foreign, ContactId::new(999)] {
        assert_eq!(
            update_contact(&db, ACCOUNT, id, ContactChanges::default()),
            Err(ContactsError::NotFound { field: "id", entity: "contact" })
        );
    }
}

#[test]
fn only_administrators_delete_and_a_deletion_takes_every_owned_row() {
    let db = MemoryDb::default();
    let (doomed, other) = {
        let mut s = db.lock();
        let doomed = s.add_contact(ACCOUNT, named("Doomed", None));
        let other = s.add_contact(ACCOUNT, named("Other", None));
        s.add_children(ACCOUNT, doomed, "vip");
        s.add_children(ACCOUNT, other, "vip");
        (doomed, other)
    };
    // the doomed contact also wrote in the other contact's conversation
    {
        let mut s = db.lock();
        let mut m = s.messages[1].clone();
        m.id = 10_000;
        m.sender = Sender::Contact(doomed);
        s.messages.push(m);
    }
    let before = db.snapshot();
    assert_eq!(delete_contact(&db, member(Role::Agent), doomed), Err(ContactsError::AdministratorRequired));
    assert_eq!(db.snapshot(), before);

    let deleted = delete_contact(&db, member(Role::Administrator), doomed).unwrap();
    assert_eq!(deleted, DeletedCounts { messages: 2, conversations: 1, contact_inboxes: 1, notes: 1, labels: 1 });
    let s = db.snapshot();
    assert!(s.contacts.iter().all(|c| c.id != doomed));
    assert!(s.conversations.iter().all(|c| c.contact_id == other));
    assert_eq!(s.messages.len(), 1, "the other contact's own message stays");
    assert_eq!(s.labels, [(ACCOUNT, other, "vip".to_owned())]);
    assert_eq!(s.events.len(), 1);
    assert_eq!(s.events[0].1, "contact.deleted");
    assert_eq!(s.events[0].2["contact"]["id"], json!(doomed.get()));
    assert_eq!(
        delete_contact(&db, member(Role::Administrator), doomed),
        Err(ContactsError::NotFound { field: "id", entity: "contact" })
    );
}

#[test]
fn lists_page_and_sort_and_search_matches_literally() {
    let db = MemoryDb::default();
    {
        let mut s = db.lock();
        for i in 0..20 {
            s.add_contact(ACCOUNT, named(&format!("Contact {i:02}"), Some(&format!("c{i}@example.com"))));
        }
        s.add_contact(ACCOUNT, named("100% real_name", None));
        s.add_contact(OTHER_ACCOUNT, named("Contact 99", None));
    }
    let by_name = ContactSort { key: ContactSortKey::Name, descending: false };
    let first = list_contacts(&db, ACCOUNT, by_name, 1).unwrap();
    assert_eq!((first.total, first.page, first.contacts.len()), (21, 1, 15));
    assert_eq!(first.contacts[0].contact.attributes.name, "100% real_name");
    let second = list_contacts(&db, ACCOUNT, by_name, 2).unwrap();
    assert_eq!(second.contacts.len(), 6);
    assert_eq!(second.contacts[5].contact.attributes.name, "Contact 19");
    let desc = list_contacts(&db, ACCOUNT, ContactSort { key: ContactSortKey::Name, descending: true }, 1).unwrap();
    assert_eq!(desc.contacts[0].contact.attributes.name, "Contact 19");
    assert!(matches!(list_contacts(&db, ACCOUNT, by_name, 0), Err(ContactsError::Invalid(_))));

    let found = search_contacts(&db, ACCOUNT, "CONTACT 1", by_name, 1).unwrap();
    assert_eq!(found.total, 10, "Contact 10..19, never the other account's");
    assert_eq!(search_contacts(&db, ACCOUNT, "0% R", by_name, 1).unwrap().total, 1);
    assert_eq!(search_contacts(&db, ACCOUNT, "c7@", by_name, 1).unwrap().total, 1);
    assert!(matches!(search_contacts(&db, ACCOUNT, "  ", by_name, 1), Err(ContactsError::Invalid(_))));
}

#[test]
fn labels_are_normalized_deduplicated_and_replaced_as_a_set() {
    let db = MemoryDb::default();
    let id = db.lock().add_contact(ACCOUNT, named("L", None));
    let set = |labels: &[&str]| {
        let labels: Vec<String> = labels.iter().map(|l| (*l).to_owned()).collect();
        set_contact_labels(&db, ACCOUNT, id, &labels)
    };
    assert_eq!(set(&["VIP", " lead ", "vip"]).unwrap(), ["lead", "vip"]);
    assert_eq!(set(&["billing", "lead"]).unwrap(), ["billing", "lead"]);
    assert_eq!(contact_labels(&db, ACCOUNT, id).unwrap(), ["billing", "lead"]);
    assert!(matches!(set(&["ok", " "]), Err(ContactsError::Invalid(_))));
    assert_eq!(contact_labels(&db, ACCOUNT, id).unwrap(), ["billing", "lead"], "a refused set changes nothing");
    assert_eq!(set(&[]).unwrap(), Vec::<String>::new());
}

#[test]
fn generated_source_ids_are_version_4_uuids() {
    let ids: Vec<String> = (0..200).map(|_| generate_source_id()).collect();
    for id in &ids {
        let hex: String = id.chars().filter(|c| *c != '-').collect();
        assert_eq!(hex.len(), 32, "{id}");
        assert!(hex.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()), "{id}");
        assert_eq!(&hex[12..13], "4", "the version nibble of {id}");
        assert!(["8", "9", "a", "b"].contains(&&hex[16..17]), "the variant bits of {id}");
    }
    let distinct: std::collections::BTreeSet<&String> = ids.iter().collect();
    assert_eq!(distinct.len(), ids.len());
}

#[test]
fn source_ids_are_trimmed_and_at_most_255_characters() {
    assert_eq!(check_source_id("  abc "), Ok("abc".to_owned()));
    assert_eq!(check_source_id(" \t"), Err(Violations::one("source_id", "blank", "can't be blank")));
    let at_limit = "ß".repeat(MAX_SOURCE_ID_LEN);
    assert_eq!(check_source_id(&format!(" {at_limit} ")), Ok(at_limit));
    assert_eq!(
        check_source_id(&"s".repeat(MAX_SOURCE_ID_LEN + 1)),
        Err(Violations::one("source_id", "too_long", "must be at most 255 characters"))
    );
}

#[test]
fn a_client_source_id_is_used_in_the_inbox_and_checked() {
    let db = MemoryDb::default();
    let inbox = db.lock().add_inbox(ACCOUNT, "API");
    let with_source = |source_id: &str| CreateContact {
        inbox_id: Some(inbox.id),
        source_id: Some(source_id.into()),
        ..CreateContact::default()
    };
    let created = create_contact(&db, ACCOUNT, with_source("  crm-42 ")).unwrap();
    assert_eq!(created.contact_inbox.map(|ci| ci.source_id).as_deref(), Some("crm-42"));
    let before = db.snapshot();
    assert_eq!(
        create_contact(&db, ACCOUNT, with_source(" ")),
        Err(ContactsError::Invalid(Violations::one("source_id", "blank", "can't be blank")))
    );
    assert_eq!(db.snapshot(), before);
    // without an inbox the source id is ignored, as the reference ignores it
    let ignored = CreateContact { source_id: Some(" ".into()), ..CreateContact::default() };
    let created = create_contact(&db, ACCOUNT, ignored).unwrap();
    assert_eq!(created.contact_inbox, None);
    assert!(created.contact.contact_inboxes.is_empty());
}

#[test]
fn creates_and_updates_are_recorded_for_webhooks_with_the_contact() {
    let db = MemoryDb::default();
    let created = create_contact(
        &db,
        ACCOUNT,
        CreateContact {
            fields: ContactChanges { name: Some("Eve".into()), ..ContactChanges::default() },
            ..CreateContact::default()
        },
    )
    .unwrap();
    let id = created.contact.contact.id;
    let changes = ContactChanges { name: Some("Eve Two".into()), ..ContactChanges::default() };
    update_contact(&db, ACCOUNT, id, changes).unwrap();
    let events = db.snapshot().events;
    let summary: Vec<(AccountId, &str, &Value, &Value, &Value)> = events
        .iter()
        .map(|(account, kind, payload)| {
            (*account, kind.as_str(), &payload["event"], &payload["account_id"], &payload["contact"]["name"])
        })
        .collect();
    assert_eq!(
        summary,
        [
            (ACCOUNT, "contact.created", &json!("contact_created"), &json!(1), &json!("Eve")),
            (ACCOUNT, "contact.updated", &json!("contact_updated"), &json!(1), &json!("Eve Two")),
        ]
    );
    assert_eq!(events[1].2["contact"]["id"], json!(id.get()));
}

/// An account with contact Jo, and the tokens that ask for it: a member's (an agent), a member's of another
/// account, a platform app's.
struct Askers {
    db: MemoryDb,
    account: AccountId,
    contact: ContactId,
    agent: String,
    outsider: String,
    app: String,
}

fn askers() -> Askers {
    use crate::admin::{create_account, create_platform_app, create_user};

    let db = MemoryDb::default();
    let account = create_account(&db, "Acme").unwrap().id;
    let other = create_account(&db, "Other").unwrap().id;
    let agent = create_user(&db, "Ada", "ada@example.com", Some((account, Role::Agent))).unwrap().access_token;
    let outsider = create_user(&db, "Out", "out@example.com", Some((other, Role::Agent))).unwrap().access_token;
    let app = create_platform_app(&db, "Provisioner").unwrap().1;
    let contact = db.lock().add_contact(account, named("Jo", Some("jo@example.com")));
    Askers { db, account, contact, agent, outsider, app }
}

/// A contact is shown to a member of its account; every other token gets the authentication error.
#[test]
fn a_contact_is_shown_only_to_a_member_of_its_account_in_one_read() {
    use crate::admin::set_account_status;
    use crate::ports::AccountStatus;

    let Askers { db, account, contact, agent, outsider, app } = askers();
    let show = |token: Option<&str>, id: ContactId| show_contact_to(&db, token, account, id);

    let shown = show(Some(&agent), contact).unwrap().unwrap();
    assert_eq!(shown.contact.id, contact);
    assert_eq!(shown.contact.attributes.email.as_deref(), Some("jo@example.com"));
    assert_eq!(
        show(Some(&agent), ContactId::new(999)),
        Ok(Err(ContactsError::NotFound { field: "id", entity: "contact" }))
    );
    assert_eq!(show(None, contact), Err(AuthError::MissingToken));
    assert_eq!(show(Some("  "), contact), Err(AuthError::MissingToken));
    assert_eq!(show(Some("not-a-token"), contact), Err(AuthError::InvalidToken));
    assert_eq!(show(Some(&outsider), contact), Err(AuthError::NotAccountMember));
    assert_eq!(show(Some(&app), contact), Err(AuthError::PlatformTokenNotAllowed));
    assert_eq!(show_contact_to(&db, Some(&agent), AccountId::new(99), contact), Err(AuthError::AccountNotFound));
    set_account_status(&db, account, AccountStatus::Suspended).unwrap();
    assert_eq!(show(Some(&agent), contact), Err(AuthError::AccountSuspended));
}

/// The read handed to the store answers as `show_contact_to` does: the contact for a member, `None` for a
/// contact not in the account (the caller then asks `show_contact_to`), the authentication error otherwise.
#[test]
fn a_contact_read_handed_to_the_store_decides_as_show_contact_to_does() {
    let Askers { db, account, contact, agent, outsider, app } = askers();
    let read = |token: Option<&str>, account: AccountId, id: ContactId| {
        let (tx, rx) = std::sync::mpsc::channel();
        read_contact_for(&db, token, account, id, move |outcome| tx.send(outcome).unwrap());
        rx.recv().unwrap()
    };

    let shown = read(Some(&agent), account, contact).unwrap().unwrap();
    assert_eq!(shown.contact.id, contact);
    assert_eq!(shown.contact.attributes.email.as_deref(), Some("jo@example.com"));
    assert_eq!(read(Some(&agent), account, ContactId::new(999)), Ok(None));
    assert_eq!(read(None, account, contact), Err(AuthError::MissingToken));
    assert_eq!(read(Some("not-a-token"), account, contact), Err(AuthError::InvalidToken));
    assert_eq!(read(Some(&outsider), account, contact), Err(AuthError::NotAccountMember));
    assert_eq!(read(Some(&app), account, contact), Err(AuthError::PlatformTokenNotAllowed));
    assert_eq!(read(Some(&agent), AccountId::new(99), contact), Err(AuthError::AccountNotFound));
}
