//! The batched reads against PostgreSQL: each read of a statement gets its own answer, as if read alone; reads
//! that arrive together share statements; a database that cannot be reached fails every read, and none hangs.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::mpsc;
use std::time::Duration;

use application::admin::{create_account, create_platform_app, create_user};
use application::auth::token_digest;
use application::ports::{ContactRead, CredentialsAndContact, Role, TokenOwner};
use application::{Database, StoreError};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use domain::{AccountId, ContactId};

use crate::testing::TestDatabase;
use crate::{PgDatabase, PoolConfig};

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

fn insert_id(conn: &mut PgConnection, sql: &str, account: i64, text: &str) -> i64 {
    diesel::sql_query(sql).bind::<BigInt, _>(account).bind::<Text, _>(text).get_result::<Id>(conn).expect(sql).id
}

/// Hands `reads` to the store all at once, then waits for every answer (in the reads' order).
fn read_together(db: &PgDatabase, reads: &[ContactRead]) -> Vec<Result<CredentialsAndContact, StoreError>> {
    let answers: Vec<_> = reads
        .iter()
        .map(|read| {
            let (tx, rx) = mpsc::channel();
            db.read_contact(read.clone(), Box::new(move |outcome| tx.send(outcome).unwrap()));
            rx
        })
        .collect();
    answers.into_iter().map(|rx| rx.recv_timeout(Duration::from_secs(10)).expect("an answer")).collect()
}

#[test]
fn reads_that_arrive_together_share_statements_and_each_gets_its_own_answer() {
    let test_db = TestDatabase::new();
    let db = test_db.pool(4);
    let account = create_account(&db, "Acme").unwrap().id;
    let other = create_account(&db, "Other").unwrap().id;
    let agent = create_user(&db, "Ada", "ada@example.com", Some((account, Role::Agent))).unwrap().access_token;
    let outsider = create_user(&db, "Out", "out@example.com", Some((other, Role::Agent))).unwrap().access_token;
    let app = create_platform_app(&db, "Provisioner").unwrap().1;
    let mut conn = test_db.connection();
    let contact = |conn: &mut PgConnection, account: AccountId, name: &str| {
        let sql = "INSERT INTO contacts (account_id, name) VALUES ($1, $2) RETURNING id";
        ContactId::new(insert_id(conn, sql, account.get(), name))
    };
    let (jo, sam, theirs) =
        (contact(&mut conn, account, "Jo"), contact(&mut conn, account, "Sam"), contact(&mut conn, other, "Lee"));
    let inbox = insert_id(
        &mut conn,
        "INSERT INTO inboxes (account_id, name, channel_type, avatar_url) VALUES ($1, $2, 'Channel::Api', '') RETURNING id",
        account.get(),
        "Web",
    );
    for source in ["web-1", "web-2"] {
        diesel::sql_query(
            "INSERT INTO contact_inboxes (account_id, contact_id, inbox_id, source_id) VALUES ($1, $2, $3, $4)",
        )
        .bind::<BigInt, _>(account.get())
        .bind::<BigInt, _>(jo.get())
        .bind::<BigInt, _>(inbox)
        .bind::<Text, _>(source)
        .execute(&mut conn)
        .expect("contact inbox");
    }
    let read =
        |token: &str, account: AccountId, id: ContactId| ContactRead { token_digest: token_digest(token), account, id };
    // every kind of answer, several times over, in one queue: 8 kinds x 8 = 64 reads
    let kinds = [
        read(&agent, account, jo),
        read(&agent, account, sam),
        read(&agent, account, theirs),
        read(&agent, account, ContactId::new(999_999)),
        read("no such token", account, jo),
        read(&outsider, account, jo),
        read(&app, account, jo),
        read(&agent, AccountId::new(999_999), jo),
    ];
    let reads: Vec<ContactRead> = kinds.iter().cycle().take(64).cloned().collect();
    // what each read finds alone, on a session of its own
    let alone: Vec<CredentialsAndContact> = kinds
        .iter()
        .map(|r| db.connect().unwrap().credentials_and_contact(&r.token_digest, r.account, r.id).unwrap())
        .collect();

    let before = db.statement_count();
    let answers = read_together(&db, &reads);
    let statements = db.statement_count() - before;

    assert!(statements < 64, "64 reads queued at once shared statements; {statements} were sent");
    for (i, answer) in answers.into_iter().enumerate() {
        assert_eq!(answer.as_ref(), Ok(&alone[i % kinds.len()]), "read {i}: {:?}", reads[i]);
    }
    // and what that is: Jo with both addresses, oldest first; Sam without any; nothing of another account's
    let (credentials, found) = &alone[0];
    assert!(matches!(credentials.owner, Some(TokenOwner::User(_))));
    let (contact, addresses) = found.as_ref().expect("Jo");
    assert_eq!((contact.id, contact.attributes.name.as_str()), (jo, "Jo"));
    assert_eq!(addresses.iter().map(|a| a.source_id.as_str()).collect::<Vec<_>>(), ["web-1", "web-2"]);
    assert_eq!(alone[1].1.as_ref().map(|(c, a)| (c.id, a.len())), Some((sam, 0)));
    assert!(alone[2].1.is_none() && alone[3].1.is_none(), "another account's contact, a missing one");
    assert!(alone[4].0.owner.is_none() && alone[4].1.is_none(), "an unknown token reads nothing");
    assert!(alone[5].0.role.is_none() && alone[5].1.is_none(), "a token of another account reads nothing");
    assert!(matches!(alone[6].0.owner, Some(TokenOwner::PlatformApp(_))) && alone[6].1.is_none());
    assert!(alone[7].0.account.is_none() && alone[7].1.is_none(), "an unknown account");
}

#[test]
fn reads_of_an_unreachable_database_all_fail_as_unavailable() {
    // nothing listens on port 1
    let mut config = PoolConfig::new("postgres://postgres@127.0.0.1:1/none");
    config.connection_timeout = Duration::from_millis(300);
    let db = PgDatabase::new(&config);
    let read = ContactRead { token_digest: token_digest("t"), account: AccountId::new(1), id: ContactId::new(1) };
    let answers = read_together(&db, &vec![read; 5]);
    assert_eq!(answers.len(), 5);
    for answer in answers {
        assert!(matches!(answer, Err(StoreError::Unavailable(_))), "{answer:?}");
    }
}
