//! The provisioning use cases against the in-memory ports: what each creates, that the token it hands out
//! really lets its owner in, and that every refusal writes nothing.

use domain::{AccountId, UserId, Violations};

use super::*;
use crate::auth::{authenticate_member, authenticate_platform_app, AuthError, Member};
use crate::memory::MemoryDb;
use crate::ports::{AccountStatus, PlatformGrant, Role, StoreError};

fn invalid(field: &str, code: &str, message: &str) -> AdminError {
    AdminError::Invalid(Violations::one(field, code, message))
}

#[test]
fn an_account_is_created_active_with_its_name_trimmed() {
    let db = MemoryDb::default();
    let account = create_account(&db, "  Acme  ").unwrap();
    assert_eq!((account.name.as_str(), account.status), ("Acme", AccountStatus::Active));
    assert_eq!(db.snapshot().accounts, [account]);
    assert!(db.snapshot().platform_grants.is_empty(), "no platform app asked for it");
}

#[test]
fn names_must_be_present_and_at_most_255_characters() {
    let db = MemoryDb::default();
    assert_eq!(create_account(&db, " \t"), Err(invalid("name", "blank", "can't be blank")));
    let too_long = "ä".repeat(MAX_NAME_LEN + 1);
    assert_eq!(create_account(&db, &too_long), Err(invalid("name", "too_long", "must be at most 255 characters")));
    assert_eq!(create_platform_app(&db, ""), Err(invalid("name", "blank", "can't be blank")));
    assert_eq!(db.snapshot(), crate::memory::State::default(), "refusals write nothing");
    // exactly at the limit (in characters, not bytes) is accepted
    let at_limit = "ä".repeat(MAX_NAME_LEN);
    assert_eq!(create_account(&db, &at_limit).unwrap().name, at_limit);
}

#[test]
fn a_created_user_gets_a_token_that_lets_it_into_its_account() {
    let db = MemoryDb::default();
    let account = create_account(&db, "Acme").unwrap();
    let user = create_user(&db, " Ada ", " Ada@Example.COM ", Some((account.id, Role::Administrator))).unwrap();
    assert_eq!((user.name.as_str(), user.email.as_str()), ("Ada", "ada@example.com"));
    assert_eq!(user.access_token.len(), 64);
    assert_eq!(
        authenticate_member(&db, Some(&user.access_token), account.id),
        Ok(Member { user_id: user.id, account_id: account.id, role: Role::Administrator })
    );
    // the token is stored only as its digest
    let s = db.snapshot();
    assert_eq!(s.tokens.len(), 1);
    assert_ne!(s.tokens[0].0, user.access_token.as_bytes());

    // without a membership the user exists, with a working token, but belongs to no account
    let loner = create_user(&db, "Lone", "lone@example.com", None).unwrap();
    assert_ne!(loner.access_token, user.access_token);
    assert_eq!(authenticate_member(&db, Some(&loner.access_token), account.id), Err(AuthError::NotAccountMember));
}

#[test]
fn user_refusals_name_every_bad_field_and_write_nothing() {
    let db = MemoryDb::default();
    let account = create_account(&db, "Acme").unwrap();
    create_user(&db, "Ada", "ada@example.com", None).unwrap();
    let before = db.snapshot();

    let Err(AdminError::Invalid(v)) = create_user(&db, " ", "not-an-email", None) else { panic!("expected Invalid") };
    let found: Vec<(&str, &str)> = v.as_slice().iter().map(|f| (f.field.as_str(), f.code.as_str())).collect();
    assert_eq!(found, [("name", "blank"), ("email", "invalid_format")]);

    // emails are unique whatever their case
    assert_eq!(
        create_user(&db, "Other Ada", "ADA@example.com", None),
        Err(invalid("email", "taken", "has already been taken"))
    );
    // all or nothing: an unknown account leaves no user and no token behind
    assert_eq!(
        create_user(&db, "Bob", "bob@example.com", Some((AccountId::new(999), Role::Agent))),
        Err(AdminError::NotFound("account"))
    );
    assert_eq!(db.snapshot(), before);
    assert_eq!(db.snapshot().accounts, [account]);
}

#[test]
fn members_are_added_once() {
    let db = MemoryDb::default();
    let account = create_account(&db, "Acme").unwrap();
    let user = create_user(&db, "Ada", "ada@example.com", None).unwrap();
    add_member(&db, account.id, user.id, Role::Agent).unwrap();
    assert_eq!(authenticate_member(&db, Some(&user.access_token), account.id).map(|m| m.role), Ok(Role::Agent));
    assert_eq!(
        add_member(&db, account.id, user.id, Role::Administrator),
        Err(invalid("user_id", "taken", "has already been taken"))
    );
    assert_eq!(add_member(&db, account.id, UserId::new(999), Role::Agent), Err(AdminError::NotFound("user")));
    assert_eq!(add_member(&db, AccountId::new(999), user.id, Role::Agent), Err(AdminError::NotFound("account")));
    assert_eq!(db.snapshot().memberships, [(account.id, user.id, Role::Agent)]);
}

#[test]
fn a_platform_app_provisions_only_what_it_created() {
    let db = MemoryDb::default();
    let (app, token) = create_platform_app(&db, " Provisioner ").unwrap();
    assert_eq!(db.snapshot().platform_apps, [(app, "Provisioner".to_owned())]);
    assert_eq!(authenticate_platform_app(&db, Some(&token)), Ok(app));
    let (other_app, _) = create_platform_app(&db, "Other").unwrap();
    assert_ne!(other_app, app);

    let account = platform_create_account(&db, app, "Tenant").unwrap();
    let user = platform_create_user(&db, app, "Ada", "ada@example.com").unwrap();
    let foreign_account = create_account(&db, "Not the app's").unwrap();
    let foreign_user = create_user(&db, "Bob", "bob@example.com", None).unwrap();
    let grants = db.snapshot().platform_grants;
    assert_eq!(grants, [(app, PlatformGrant::Account(account.id)), (app, PlatformGrant::User(user.id))]);

    let before = db.snapshot();
    assert_eq!(
        platform_add_member(&db, app, foreign_account.id, user.id, Role::Agent),
        Err(AdminError::NotPermitted("account"))
    );
    assert_eq!(
        platform_add_member(&db, app, account.id, foreign_user.id, Role::Agent),
        Err(AdminError::NotPermitted("user"))
    );
    // an id that does not exist is answered like another app's: the app learns nothing about it
    assert_eq!(
        platform_add_member(&db, app, AccountId::new(999), user.id, Role::Agent),
        Err(AdminError::NotPermitted("account"))
    );
    assert_eq!(
        platform_add_member(&db, other_app, account.id, user.id, Role::Agent),
        Err(AdminError::NotPermitted("account"))
    );
    assert_eq!(db.snapshot(), before, "refusals write nothing");

    platform_add_member(&db, app, account.id, user.id, Role::Administrator).unwrap();
    assert_eq!(authenticate_member(&db, Some(&user.access_token), account.id).map(|m| m.role), Ok(Role::Administrator));
    assert_eq!(
        platform_add_member(&db, app, account.id, user.id, Role::Agent),
        Err(invalid("user_id", "taken", "has already been taken"))
    );
}

#[test]
fn platform_user_refusals_write_nothing() {
    let db = MemoryDb::default();
    let (app, _) = create_platform_app(&db, "Provisioner").unwrap();
    let before = db.snapshot();
    assert_eq!(
        platform_create_user(&db, app, "Ada", "nope"),
        Err(invalid("email", "invalid_format", "is not a valid email address"))
    );
    assert_eq!(platform_create_account(&db, app, ""), Err(invalid("name", "blank", "can't be blank")));
    assert_eq!(db.snapshot(), before);
}

#[test]
fn a_suspended_account_lets_nobody_in_until_reactivated() {
    let db = MemoryDb::default();
    let account = create_account(&db, "Acme").unwrap();
    let user = create_user(&db, "Ada", "ada@example.com", Some((account.id, Role::Agent))).unwrap();
    set_account_status(&db, account.id, AccountStatus::Suspended).unwrap();
    assert_eq!(db.snapshot().accounts[0].status, AccountStatus::Suspended);
    assert_eq!(authenticate_member(&db, Some(&user.access_token), account.id), Err(AuthError::AccountSuspended));
    set_account_status(&db, account.id, AccountStatus::Active).unwrap();
    assert!(authenticate_member(&db, Some(&user.access_token), account.id).is_ok());
    assert_eq!(
        set_account_status(&db, AccountId::new(999), AccountStatus::Suspended),
        Err(AdminError::NotFound("account"))
    );
}

#[test]
fn the_demo_is_created_once_on_an_empty_database() {
    let db = MemoryDb::default();
    let demo = bootstrap_demo(&db).unwrap().expect("an empty database gets the demo");
    let s = db.snapshot();
    assert_eq!(s.accounts.len(), 1);
    assert_eq!((s.accounts[0].id, s.accounts[0].name.as_str()), (demo.account_id, "Demo"));
    assert_eq!(demo.user.email, "admin@demo.coalesce.invalid");
    assert_eq!(
        authenticate_member(&db, Some(&demo.user.access_token), demo.account_id),
        Ok(Member { user_id: demo.user.id, account_id: demo.account_id, role: Role::Administrator })
    );
    let inboxes: Vec<(AccountId, i64, &str)> =
        s.inboxes.iter().map(|(a, i)| (*a, i.id.get(), i.name.as_str())).collect();
    assert_eq!(inboxes, [(demo.account_id, demo.inbox_id, "Demo API inbox")]);

    assert_eq!(bootstrap_demo(&db), Ok(None), "a provisioned database is left alone");
    assert_eq!(db.snapshot(), s);
}

#[test]
fn the_demo_is_not_created_where_an_account_exists() {
    let db = MemoryDb::default();
    create_account(&db, "Real").unwrap();
    let before = db.snapshot();
    assert_eq!(bootstrap_demo(&db), Ok(None));
    assert_eq!(db.snapshot(), before);
}

#[test]
fn storage_errors_map_to_what_the_caller_answers() {
    assert_eq!(
        AdminError::from(StoreError::Taken { field: "email" }),
        invalid("email", "taken", "has already been taken")
    );
    assert_eq!(AdminError::from(StoreError::MissingReference { entity: "user" }), AdminError::NotFound("user"));
    assert_eq!(AdminError::from(StoreError::Unavailable("timeout".into())), AdminError::Unavailable);
    assert_eq!(AdminError::from(StoreError::Other("boom".into())), AdminError::Internal("boom".into()));
}
