//! Merge preview: what a merge would do, computed with the same rule ([`plan_merge`]) and checks as the merge,
//! in a read-only transaction that writes nothing.

use domain::{
    attribute_changes, AttributeChange, Contact, ContactInbox, Identity, IdentityKind, IdentitySource, Violations,
};

use crate::merge_contacts::{pick_pair, plan_merge, MergeContacts, MergeContactsError};
use crate::ports::{in_rolled_back_transaction, Database, MovedCounts};

/// The base as it would be after the merge.
#[derive(Debug, Clone, PartialEq)]
pub struct MergePreview {
    pub contact: Contact,
    /// The base's channel addresses after the merge: its own and the mergee's, oldest first.
    pub contact_inboxes: Vec<ContactInbox>,
    pub changes: Vec<AttributeChange>,
    pub moves: MovedCounts,
    /// The mergee's identities as the base would hold them (primary where the base takes the value over as its
    /// own field, secondary otherwise; source `merge`).
    pub identities_gained: Vec<Identity>,
}

/// Previews the merge `cmd` describes.
///
/// # Errors
/// Exactly the errors the merge itself would answer with at this moment (not found, merged away, invalid,
/// taken), so that a preview never promises what the merge would refuse.
pub fn preview_merge(db: &dyn Database, cmd: MergeContacts) -> Result<MergePreview, MergeContactsError> {
    let account = cmd.account_id;
    in_rolled_back_transaction(db, |tx| {
        let found = tx.find_contacts(account, &[cmd.base_contact_id, cmd.mergee_contact_id])?;
        let (base, mergee) = pick_pair(tx, &cmd, &found)?;
        if base.id == mergee.id {
            let contact_inboxes = tx.contact_inboxes(account, base.id)?;
            return Ok(MergePreview {
                contact: base,
                contact_inboxes,
                changes: Vec::new(),
                moves: MovedCounts::default(),
                identities_gained: Vec::new(),
            });
        }
        let merged = plan_merge(&base, &mergee, &cmd.choices).map_err(MergeContactsError::Invalid)?;
        let taken = tx.taken_fields(account, &merged, &[base.id, mergee.id])?;
        if !taken.is_empty() {
            let mut v = Violations::default();
            for field in taken {
                v.push(field, "taken", "has already been taken by another contact");
            }
            return Err(MergeContactsError::Invalid(v));
        }
        let moves = tx.count_children(account, mergee.id)?;
        let contact_inboxes =
            tx.contact_inboxes_of(account, &[base.id, mergee.id])?.into_iter().map(|(_, inbox)| inbox).collect();
        let changes = attribute_changes(&base.attributes, &merged);
        let field = |a: &domain::ContactAttributes, kind: IdentityKind| match kind {
            IdentityKind::Email => a.email.clone(),
            IdentityKind::PhoneNumber => a.phone_number.clone(),
            IdentityKind::Identifier => a.identifier.clone(),
        };
        // a mergee identity becomes the base's primary when the merged field takes its value
        let identities_gained = tx
            .identities(account, mergee.id)?
            .into_iter()
            .map(|i| Identity {
                contact_id: base.id,
                primary: field(&merged, i.kind).as_ref() == Some(&i.value),
                source: IdentitySource::Merge,
                ..i
            })
            .collect();
        let contact = Contact { attributes: merged, ..base };
        Ok(MergePreview { contact, contact_inboxes, changes, moves, identities_gained })
    })
}
