//! Choosing each field's winner, and merging several contacts into one at once.
//!
//! The reference rule ([`crate::merge_attributes`]) keeps the base's value wherever it has one. A caller may
//! instead name the winner of each field: for a pair, [`FieldChoices`] (`base` or `mergee`, and for the two
//! JSON objects also `merge`, the reference rule); for several mergees, [`ManyChoices`] names a contact (or
//! `merge`). A merge of several contacts is a chain of pair merges into the base, in the order the mergees are
//! given, each recorded (and undoable) on its own; [`ManyChoices::for_step`] gives each pair the choices that
//! make the chain end with the named contact's values.
//!
//! A named side wins even with a blank value: the caller asked for that contact's value, and a blank one is a
//! value too (the base's email is then cleared, say). Fields nobody names follow the reference rule.

use std::collections::BTreeSet;

use crate::contact::ContactAttributes;
use crate::ids::ContactId;
use crate::merge::{deep_merge, merge_attributes};
use crate::validation::Violations;

/// The most mergees one request may merge into its base.
pub const MAX_MERGEES: usize = 9;

/// Which side of a pair merge wins a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Base,
    Mergee,
}

/// Which side wins a JSON object, or `Merge`: both, merged recursively, the base winning on shared keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ObjectChoice {
    Base,
    Mergee,
    #[default]
    Merge,
}

/// The winner of each attribute in a pair merge; the default is the reference rule for every field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FieldChoices {
    pub name: Option<Side>,
    pub email: Option<Side>,
    pub phone_number: Option<Side>,
    pub identifier: Option<Side>,
    pub additional_attributes: ObjectChoice,
    pub custom_attributes: ObjectChoice,
}

/// The base's attributes after `mergee` is merged into `base` with the caller's `choices`, normalized to
/// their stored form. With the default choices this is exactly [`merge_attributes`].
#[must_use]
pub fn merge_attributes_choosing(
    base: &ContactAttributes,
    mergee: &ContactAttributes,
    choices: &FieldChoices,
) -> ContactAttributes {
    let reference = merge_attributes(base, mergee);
    if *choices == FieldChoices::default() {
        return reference;
    }
    let text = |side: Option<Side>, b: &Option<String>, m: &Option<String>, r: Option<String>| match side {
        None => r,
        Some(Side::Base) => b.clone(),
        Some(Side::Mergee) => m.clone(),
    };
    let object = |choice: ObjectChoice, b: &crate::JsonObject, m: &crate::JsonObject| match choice {
        ObjectChoice::Base => b.clone(),
        ObjectChoice::Mergee => m.clone(),
        ObjectChoice::Merge => deep_merge(m, b),
    };
    ContactAttributes {
        name: match choices.name {
            None => reference.name,
            Some(Side::Base) => base.name.clone(),
            Some(Side::Mergee) => mergee.name.clone(),
        },
        email: text(choices.email, &base.email, &mergee.email, reference.email),
        phone_number: text(choices.phone_number, &base.phone_number, &mergee.phone_number, reference.phone_number),
        identifier: text(choices.identifier, &base.identifier, &mergee.identifier, reference.identifier),
        additional_attributes: object(
            choices.additional_attributes,
            &base.additional_attributes,
            &mergee.additional_attributes,
        ),
        custom_attributes: object(choices.custom_attributes, &base.custom_attributes, &mergee.custom_attributes),
    }
    .normalized()
}

/// Who wins a field when several contacts merge: one of them by id, or `Merge` (the reference rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    Contact(ContactId),
    Merge,
}

/// The winner of each attribute in a merge of several contacts; `None` is the reference rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ManyChoices {
    pub name: Option<Pick>,
    pub email: Option<Pick>,
    pub phone_number: Option<Pick>,
    pub identifier: Option<Pick>,
    pub additional_attributes: Option<Pick>,
    pub custom_attributes: Option<Pick>,
}

impl ManyChoices {
    fn fields(&self) -> [(&'static str, Option<Pick>); 6] {
        [
            ("name", self.name),
            ("email", self.email),
            ("phone_number", self.phone_number),
            ("identifier", self.identifier),
            ("additional_attributes", self.additional_attributes),
            ("custom_attributes", self.custom_attributes),
        ]
    }

    /// The choices of the pair merge of `mergee` into the base, one step of the chain: a field named for this
    /// mergee is taken from it; a field named for any other contact keeps the base's current value (the
    /// base's own, or the one an earlier step took from the named mergee; a later step takes it from a later
    /// one). So the chain ends with each named contact's value, and each step's record says what it wrote.
    #[must_use]
    pub fn for_step(&self, mergee: ContactId) -> FieldChoices {
        let side = |pick: Option<Pick>| match pick {
            None | Some(Pick::Merge) => None,
            Some(Pick::Contact(id)) if id == mergee => Some(Side::Mergee),
            Some(Pick::Contact(_)) => Some(Side::Base),
        };
        let object = |pick: Option<Pick>| match side(pick) {
            None => ObjectChoice::Merge,
            Some(Side::Base) => ObjectChoice::Base,
            Some(Side::Mergee) => ObjectChoice::Mergee,
        };
        FieldChoices {
            name: side(self.name),
            email: side(self.email),
            phone_number: side(self.phone_number),
            identifier: side(self.identifier),
            additional_attributes: object(self.additional_attributes),
            custom_attributes: object(self.custom_attributes),
        }
    }
}

/// Checks a request to merge `mergees` into `base`: 1 to [`MAX_MERGEES`] mergees, none twice, the base not
/// among them, and every named winner one of the contacts merged. Field names are the request's
/// (`mergee_contact_ids[2]`, `attributes.email`).
///
/// # Errors
/// Every broken rule, one violation each.
pub fn validate_many(base: ContactId, mergees: &[ContactId], choices: &ManyChoices) -> Result<(), Violations> {
    let mut v = Violations::default();
    if mergees.is_empty() {
        v.push("mergee_contact_ids", "required", "must name at least one contact");
    }
    if mergees.len() > MAX_MERGEES {
        v.push("mergee_contact_ids", "too_long", format!("must name at most {MAX_MERGEES} contacts"));
    }
    let mut seen = BTreeSet::new();
    for (i, id) in mergees.iter().enumerate() {
        let field = format!("mergee_contact_ids[{i}]");
        if *id == base {
            v.push(&field, "invalid_value", "is the base contact; a contact cannot be merged into itself");
        } else if !seen.insert(*id) {
            v.push(&field, "duplicate", format!("contact {id} is named more than once"));
        }
    }
    for (field, pick) in choices.fields() {
        if let Some(Pick::Contact(id)) = pick {
            if id != base && !mergees.contains(&id) {
                v.push(
                    &format!("attributes.{field}"),
                    "invalid_value",
                    format!("contact {id} is not one of the contacts merged"),
                );
            }
        }
    }
    v.into_result()
}

#[cfg(test)]
mod tests;
