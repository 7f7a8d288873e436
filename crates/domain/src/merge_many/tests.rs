//! Field choice and the chain of pair merges of a many-contact merge.

use serde_json::{json, Value};

use super::*;
use crate::JsonObject;

fn obj(v: Value) -> JsonObject {
    match v {
        Value::Object(m) => m,
        _ => JsonObject::new(),
    }
}

fn contact(
    name: &str,
    email: Option<&str>,
    phone: Option<&str>,
    identifier: Option<&str>,
    custom: Value,
) -> ContactAttributes {
    ContactAttributes {
        name: name.into(),
        email: email.map(Into::into),
        phone_number: phone.map(Into::into),
        identifier: identifier.map(Into::into),
        additional_attributes: obj(json!({"city": name})),
        custom_attributes: obj(custom),
    }
}

fn base() -> ContactAttributes {
    contact("Base", Some("base@example.com"), None, Some("b-1"), json!({"plan": "free", "seats": 1}))
}

fn mergee() -> ContactAttributes {
    contact("Mergee", Some("mergee@example.com"), Some("+4930123"), None, json!({"plan": "pro", "crm": "x"}))
}

#[test]
fn default_choices_are_the_reference_rule() {
    let (b, m) = (base(), mergee());
    assert_eq!(merge_attributes_choosing(&b, &m, &FieldChoices::default()), merge_attributes(&b, &m));
}

#[test]
fn each_scalar_field_follows_the_chosen_side() {
    let (b, m) = (base(), mergee());
    let all = |side| FieldChoices {
        name: Some(side),
        email: Some(side),
        phone_number: Some(side),
        identifier: Some(side),
        ..FieldChoices::default()
    };
    let merged = merge_attributes_choosing(&b, &m, &all(Side::Mergee));
    assert_eq!(merged.name, "Mergee");
    assert_eq!(merged.email.as_deref(), Some("mergee@example.com"));
    assert_eq!(merged.phone_number.as_deref(), Some("+4930123"));
    // the mergee has no identifier: choosing it clears the base's
    assert_eq!(merged.identifier, None);

    let merged = merge_attributes_choosing(&b, &m, &all(Side::Base));
    assert_eq!(merged.name, "Base");
    assert_eq!(merged.email.as_deref(), Some("base@example.com"));
    // the base has no phone: choosing the base keeps it blank instead of taking the mergee's
    assert_eq!(merged.phone_number, None);
    assert_eq!(merged.identifier.as_deref(), Some("b-1"));
}

#[test]
fn one_field_chosen_leaves_the_others_to_the_reference_rule() {
    let (b, m) = (base(), mergee());
    let choices = FieldChoices { email: Some(Side::Mergee), ..FieldChoices::default() };
    let merged = merge_attributes_choosing(&b, &m, &choices);
    let reference = merge_attributes(&b, &m);
    assert_eq!(merged.email.as_deref(), Some("mergee@example.com"));
    assert_eq!(merged.name, reference.name);
    assert_eq!(merged.phone_number, reference.phone_number);
    assert_eq!(merged.identifier, reference.identifier);
    assert_eq!(merged.custom_attributes, reference.custom_attributes);
}

#[test]
fn each_object_follows_its_choice() {
    let (b, m) = (base(), mergee());
    let with =
        |choice| FieldChoices { custom_attributes: choice, additional_attributes: choice, ..FieldChoices::default() };
    let merged = merge_attributes_choosing(&b, &m, &with(ObjectChoice::Base));
    assert_eq!(Value::Object(merged.custom_attributes), json!({"plan": "free", "seats": 1}));
    assert_eq!(Value::Object(merged.additional_attributes), json!({"city": "Base"}));
    let merged = merge_attributes_choosing(&b, &m, &with(ObjectChoice::Mergee));
    assert_eq!(Value::Object(merged.custom_attributes), json!({"plan": "pro", "crm": "x"}));
    assert_eq!(Value::Object(merged.additional_attributes), json!({"city": "Mergee"}));
    let merged = merge_attributes_choosing(&b, &m, &with(ObjectChoice::Merge));
    assert_eq!(Value::Object(merged.custom_attributes), json!({"plan": "free", "seats": 1, "crm": "x"}));
}

#[test]
fn chosen_values_are_normalized_like_every_stored_value() {
    let b = base();
    let m = contact("  Padded  ", Some("Upper@Example.COM"), Some("  "), None, json!({}));
    let choices = FieldChoices {
        name: Some(Side::Mergee),
        email: Some(Side::Mergee),
        phone_number: Some(Side::Mergee),
        ..FieldChoices::default()
    };
    let merged = merge_attributes_choosing(&b, &m, &choices);
    assert_eq!(merged.name, "Padded");
    assert_eq!(merged.email.as_deref(), Some("upper@example.com"));
    assert_eq!(merged.phone_number, None);
}

/// Runs the chain the way the use case does: each mergee into the running base, with its step's choices.
fn chain(
    base: &ContactAttributes,
    mergees: &[(ContactId, ContactAttributes)],
    choices: &ManyChoices,
) -> ContactAttributes {
    mergees.iter().fold(base.clone(), |running, (id, m)| merge_attributes_choosing(&running, m, &choices.for_step(*id)))
}

#[test]
fn a_chain_ends_with_each_named_contacts_value() {
    let (b_id, first, second, third) = (ContactId::new(1), ContactId::new(2), ContactId::new(3), ContactId::new(4));
    let mergees = vec![
        (first, contact("First", Some("first@example.com"), Some("+4930111"), Some("f-1"), json!({"a": 1}))),
        (second, contact("Second", Some("second@example.com"), None, Some("s-1"), json!({"b": 2}))),
        (third, contact("Third", None, Some("+4930333"), None, json!({"c": 3}))),
    ];
    for (pick, name, email, custom) in [
        (b_id, "Base", Some("base@example.com"), json!({"plan": "free", "seats": 1})),
        (first, "First", Some("first@example.com"), json!({"a": 1})),
        (second, "Second", Some("second@example.com"), json!({"b": 2})),
        (third, "Third", None, json!({"c": 3})),
    ] {
        let choices = ManyChoices {
            name: Some(Pick::Contact(pick)),
            email: Some(Pick::Contact(pick)),
            custom_attributes: Some(Pick::Contact(pick)),
            ..ManyChoices::default()
        };
        let merged = chain(&base(), &mergees, &choices);
        assert_eq!(merged.name, name, "name from {pick}");
        assert_eq!(merged.email.as_deref(), email, "email from {pick}");
        assert_eq!(Value::Object(merged.custom_attributes), custom, "custom_attributes from {pick}");
        // fields nobody named: the reference rule over the chain (the base's, else the first mergee's, …)
        assert_eq!(merged.phone_number.as_deref(), Some("+4930111"));
        assert_eq!(merged.identifier.as_deref(), Some("b-1"));
    }
}

#[test]
fn merge_pick_and_no_pick_are_the_reference_rule_over_the_chain() {
    let mergees = vec![
        (ContactId::new(2), contact("", None, Some("+4930111"), None, json!({"a": 1, "plan": "pro"}))),
        (ContactId::new(3), contact("Third", None, Some("+4930333"), Some("t-1"), json!({"b": 2}))),
    ];
    let b = contact("", Some("b@example.com"), None, None, json!({"plan": "free"}));
    let every = ManyChoices {
        name: Some(Pick::Merge),
        email: Some(Pick::Merge),
        phone_number: Some(Pick::Merge),
        identifier: Some(Pick::Merge),
        additional_attributes: Some(Pick::Merge),
        custom_attributes: Some(Pick::Merge),
    };
    let merged = chain(&b, &mergees, &every);
    assert_eq!(merged, chain(&b, &mergees, &ManyChoices::default()));
    assert_eq!(merged.name, "Third");
    assert_eq!(merged.phone_number.as_deref(), Some("+4930111"));
    assert_eq!(merged.identifier.as_deref(), Some("t-1"));
    assert_eq!(Value::Object(merged.custom_attributes), json!({"plan": "free", "a": 1, "b": 2}));
}

#[test]
fn requests_are_checked() {
    let (b, m1, m2) = (ContactId::new(1), ContactId::new(2), ContactId::new(3));
    assert!(validate_many(b, &[m1, m2], &ManyChoices::default()).is_ok());
    let fields = |r: Result<(), Violations>| -> Vec<(String, String)> {
        r.err().map_or_else(Vec::new, |v| v.into_vec().into_iter().map(|f| (f.field, f.code)).collect())
    };
    assert_eq!(
        fields(validate_many(b, &[], &ManyChoices::default())),
        [("mergee_contact_ids".into(), "required".into())]
    );
    let ten: Vec<ContactId> = (2..12).map(ContactId::new).collect();
    assert_eq!(
        fields(validate_many(b, &ten, &ManyChoices::default())),
        [("mergee_contact_ids".into(), "too_long".into())]
    );
    let nine: Vec<ContactId> = (2..11).map(ContactId::new).collect();
    assert!(validate_many(b, &nine, &ManyChoices::default()).is_ok());
    assert_eq!(
        fields(validate_many(b, &[m1, b, m1], &ManyChoices::default())),
        [
            ("mergee_contact_ids[1]".into(), "invalid_value".into()),
            ("mergee_contact_ids[2]".into(), "duplicate".into())
        ]
    );
    let stranger = ManyChoices { email: Some(Pick::Contact(ContactId::new(99))), ..ManyChoices::default() };
    assert_eq!(fields(validate_many(b, &[m1], &stranger)), [("attributes.email".into(), "invalid_value".into())]);
    let fine = ManyChoices { email: Some(Pick::Contact(b)), name: Some(Pick::Contact(m2)), ..ManyChoices::default() };
    assert!(validate_many(b, &[m1, m2], &fine).is_ok());
}
