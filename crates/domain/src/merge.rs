//! The contact merge rule, exactly as the reference applies it.
//!
//! * Only the six [`ContactAttributes`] merge; everything else on the base is left alone.
//! * Each side is first compacted at the top level: a blank value (missing, empty or whitespace-only string,
//!   empty object) counts as absent.
//! * The base wins on every attribute it still has; the mergee only fills what is blank on the base.
//! * The two JSON objects merge recursively: where both sides hold a nested key the base's value wins even when
//!   it is blank (nested values are not compacted), mergee-only keys are added (blank ones included), and
//!   arrays are replaced by the base's array, never concatenated.

use serde_json::Value;

use crate::contact::ContactAttributes;
use crate::JsonObject;

/// The base's attributes after `mergee` is merged into `base`, normalized to their stored form.
#[must_use]
pub fn merge_attributes(base: &ContactAttributes, mergee: &ContactAttributes) -> ContactAttributes {
    ContactAttributes {
        name: if is_blank(&base.name) && !is_blank(&mergee.name) { mergee.name.clone() } else { base.name.clone() },
        email: prefer_base(&base.email, &mergee.email),
        phone_number: prefer_base(&base.phone_number, &mergee.phone_number),
        identifier: prefer_base(&base.identifier, &mergee.identifier),
        additional_attributes: deep_merge(&mergee.additional_attributes, &base.additional_attributes),
        custom_attributes: deep_merge(&mergee.custom_attributes, &base.custom_attributes),
    }
    .normalized()
}

fn is_blank(s: &str) -> bool {
    s.trim().is_empty()
}

fn prefer_base(base: &Option<String>, mergee: &Option<String>) -> Option<String> {
    match (base, mergee) {
        (Some(b), _) if !is_blank(b) => Some(b.clone()),
        (_, Some(m)) if !is_blank(m) => Some(m.clone()),
        _ => base.clone(),
    }
}

/// `under.deep_merge(over)`: `over` wins on every key both hold, except that two objects merge recursively.
#[must_use]
pub fn deep_merge(under: &JsonObject, over: &JsonObject) -> JsonObject {
    let mut merged = under.clone();
    for (key, over_value) in over {
        let value = match (merged.get(key), over_value) {
            (Some(Value::Object(u)), Value::Object(o)) => Value::Object(deep_merge(u, o)),
            _ => over_value.clone(),
        };
        merged.insert(key.clone(), value);
    }
    merged
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn obj(v: Value) -> JsonObject {
        match v {
            Value::Object(m) => m,
            _ => JsonObject::new(),
        }
    }

    fn attrs(
        name: &str,
        email: &str,
        phone: &str,
        identifier: &str,
        additional: Value,
        custom: Value,
    ) -> ContactAttributes {
        let opt = |s: &str| Some(s.to_owned());
        ContactAttributes {
            name: name.to_owned(),
            email: opt(email),
            phone_number: opt(phone),
            identifier: opt(identifier),
            additional_attributes: obj(additional),
            custom_attributes: obj(custom),
        }
    }

    /// Chatwoot's own spec for its merge action, verbatim.
    #[test]
    fn reference_worked_example() {
        let base =
            attrs("", "old@old.com", "", "base_contact", json!({}), json!({"val_test": "old", "val_empty_old": ""}));
        let mergee = attrs(
            "",
            "new@new.com",
            "+12212345",
            "",
            json!({}),
            json!({"val_test": "new", "val_new": "new", "val_empty_new": ""}),
        );
        let merged = merge_attributes(&base, &mergee);
        assert_eq!(merged.identifier.as_deref(), Some("base_contact"));
        assert_eq!(merged.email.as_deref(), Some("old@old.com"));
        assert_eq!(merged.phone_number.as_deref(), Some("+12212345"));
        assert_eq!(
            Value::Object(merged.custom_attributes),
            json!({"val_test": "old", "val_new": "new", "val_empty_old": "", "val_empty_new": ""})
        );
    }

    #[test]
    fn scalar_attributes_table() {
        // (base, mergee, expected) for each string attribute; blank means empty or whitespace-only.
        let cases: &[(&str, &str, Option<&str>)] = &[
            ("base", "mergee", Some("base")),
            ("", "mergee", Some("mergee")),
            ("   ", "mergee", Some("mergee")),
            ("base", "", Some("base")),
            ("", "", None),
            (" ", "\t", None),
            ("  padded  ", "", Some("padded")),
        ];
        for &(b, m, expected) in cases {
            let base = attrs(b, b, b, b, json!({}), json!({}));
            let mergee = attrs(m, m, m, m, json!({}), json!({}));
            let merged = merge_attributes(&base, &mergee);
            assert_eq!(merged.email.as_deref(), expected, "email {b:?} <- {m:?}");
            assert_eq!(merged.phone_number.as_deref(), expected, "phone {b:?} <- {m:?}");
            assert_eq!(merged.identifier.as_deref(), expected, "identifier {b:?} <- {m:?}");
            assert_eq!(merged.name, expected.unwrap_or(""), "name {b:?} <- {m:?}");
        }
    }

    #[test]
    fn none_on_either_side() {
        let base = ContactAttributes { name: "Base".into(), ..ContactAttributes::default() };
        let mergee = ContactAttributes {
            email: Some("Mixed@Case.COM".into()),
            identifier: None,
            ..ContactAttributes::default()
        };
        let merged = merge_attributes(&base, &mergee);
        assert_eq!(merged.name, "Base");
        // the email moves, lower-cased as every stored email is
        assert_eq!(merged.email.as_deref(), Some("mixed@case.com"));
        assert_eq!(merged.identifier, None);
        assert_eq!(merged.phone_number, None);
    }

    #[test]
    fn json_objects_table() {
        let cases = [
            // base empty: the mergee's object is taken whole
            (json!({}), json!({"a": 1}), json!({"a": 1})),
            // mergee empty: the base's object stays
            (json!({"a": 1}), json!({}), json!({"a": 1})),
            // the base wins on a shared key, the mergee fills the rest
            (json!({"a": 1, "b": 2}), json!({"a": 9, "c": 3}), json!({"a": 1, "b": 2, "c": 3})),
            // nested objects merge recursively
            (
                json!({"address": {"city": "Berlin"}}),
                json!({"address": {"city": "Paris", "zip": "75001"}}),
                json!({"address": {"city": "Berlin", "zip": "75001"}}),
            ),
            // nested blanks are not compacted: a blank base value still wins, blank mergee keys are added
            (json!({"n": {"k": ""}}), json!({"n": {"k": "full", "e": null}}), json!({"n": {"k": "", "e": null}})),
            // arrays are replaced by the base's, not concatenated
            (json!({"tags": ["x"]}), json!({"tags": ["y", "z"]}), json!({"tags": ["x"]})),
            // an object on one side and a scalar on the other: the base's value wins
            (json!({"k": "flat"}), json!({"k": {"deep": 1}}), json!({"k": "flat"})),
            (json!({"k": {"deep": 1}}), json!({"k": "flat"}), json!({"k": {"deep": 1}})),
            // three levels deep
            (
                json!({"a": {"b": {"c": 1}}}),
                json!({"a": {"b": {"d": 2}, "e": 3}}),
                json!({"a": {"b": {"c": 1, "d": 2}, "e": 3}}),
            ),
        ];
        for (base, mergee, expected) in cases {
            let b = attrs("b", "", "", "", base.clone(), base.clone());
            let m = attrs("m", "", "", "", mergee.clone(), mergee.clone());
            let merged = merge_attributes(&b, &m);
            assert_eq!(Value::Object(merged.additional_attributes), expected, "additional {base} <- {mergee}");
            assert_eq!(Value::Object(merged.custom_attributes), expected, "custom {base} <- {mergee}");
        }
    }

    #[test]
    fn merging_is_not_symmetric_and_self_merge_is_identity() {
        let a = attrs("A", "a@a.com", "+111", "a", json!({"x": 1}), json!({"y": 1}));
        let b = attrs("B", "b@b.com", "+222", "b", json!({"x": 2, "z": 3}), json!({}));
        assert_eq!(merge_attributes(&a, &a), a);
        assert_eq!(merge_attributes(&a, &b).name, "A");
        assert_eq!(merge_attributes(&b, &a).name, "B");
        assert_eq!(Value::Object(merge_attributes(&a, &b).additional_attributes), json!({"x": 1, "z": 3}));
    }
}
