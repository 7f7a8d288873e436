//! Writes racing merges and deletions: messages posted into conversations whose contact is being merged away
//! follow the conversation to the base; messages racing a deletion either land before it or find nothing;
//! conversations created at once get distinct, gapless numbers. Nothing fails, deadlocks or is orphaned.

use std::thread;

use coalesce_tests::{json, TestApp};

#[test]
fn messages_posted_during_merges_follow_their_conversation_to_the_base() {
    let app = TestApp::spawn();
    let (account, token) = app.account_with_admin();
    let inbox = app.api_inbox(account, &token, "API");
    let base = app.api_contact(account, &token, &json!({"name": "Base"}));
    let mergees: Vec<i64> =
        (0..4).map(|i| app.api_contact(account, &token, &json!({"name": format!("Dup {i}")}))).collect();
    let conversations: Vec<i64> = mergees.iter().map(|m| app.api_conversation(account, &token, inbox, *m)).collect();
    let per_conversation = 12;

    thread::scope(|s| {
        for &conversation in &conversations {
            let (app, token) = (&app, &token);
            s.spawn(move || {
                for i in 0..per_conversation {
                    let r = app.post(
                        &format!("/api/v1/accounts/{account}/conversations/{conversation}/messages"),
                        token,
                        &json!({"content": format!("m{i}"), "message_type": "incoming"}),
                    );
                    assert_eq!(r.status, 200, "conversation {conversation}: {}", r.body);
                }
            });
        }
        let (app, token, mergees) = (&app, &token, &mergees);
        s.spawn(move || {
            for &m in mergees {
                let r = app.merge(account, token, base, m);
                assert_eq!(r.status, 200, "merge {m}: {}", r.body);
            }
        });
    });

    let total = i64::try_from(conversations.len()).unwrap() * per_conversation;
    assert_eq!(
        app.count(&format!("SELECT count(*) AS n FROM messages WHERE account_id = {account}")),
        total,
        "nothing lost"
    );
    assert_eq!(
        app.count(&format!(
            "SELECT count(*) AS n FROM messages WHERE account_id = {account} AND sender_contact_id = {base}"
        )),
        total,
        "every incoming message is the base's"
    );
    assert_eq!(app.count(&format!("SELECT count(*) AS n FROM conversations WHERE contact_id <> {base}")), 0);
    assert_eq!(app.count(&format!("SELECT count(*) AS n FROM contacts WHERE account_id = {account}")), 1);
}

#[test]
fn messages_racing_a_deletion_land_before_it_or_find_nothing() {
    let app = TestApp::spawn();
    let (account, token) = app.account_with_admin();
    let inbox = app.api_inbox(account, &token, "API");
    let doomed = app.api_contact(account, &token, &json!({"name": "Doomed"}));
    let conversation = app.api_conversation(account, &token, inbox, doomed);

    let statuses: Vec<u16> = thread::scope(|s| {
        let posters: Vec<_> = (0..3)
            .map(|_| {
                let (app, token) = (&app, &token);
                s.spawn(move || {
                    (0..10)
                        .map(|_| {
                            app.post(
                                &format!("/api/v1/accounts/{account}/conversations/{conversation}/messages"),
                                token,
                                &json!({"content": "hello?", "message_type": "incoming"}),
                            )
                            .status
                        })
                        .collect::<Vec<u16>>()
                })
            })
            .collect();
        let r = app.delete(&format!("/api/v1/accounts/{account}/contacts/{doomed}"), &token);
        assert_eq!(r.status, 200, "{}", r.body);
        posters.into_iter().flat_map(|p| p.join().unwrap()).collect()
    });
    assert!(statuses.iter().all(|s| *s == 200 || *s == 404), "only landed or not found: {statuses:?}");
    assert_eq!(app.count(&format!("SELECT count(*) AS n FROM messages WHERE account_id = {account}")), 0, "no orphan");
    assert_eq!(app.count(&format!("SELECT count(*) AS n FROM conversations WHERE account_id = {account}")), 0);
}

#[test]
fn conversations_created_at_once_get_distinct_gapless_numbers() {
    let app = TestApp::spawn();
    let (account, token) = app.account_with_admin();
    let inbox = app.api_inbox(account, &token, "API");
    let contacts: Vec<i64> =
        (0..4).map(|i| app.api_contact(account, &token, &json!({"name": format!("C{i}")}))).collect();
    let mut numbers: Vec<i64> = thread::scope(|s| {
        let workers: Vec<_> = contacts
            .iter()
            .map(|&c| {
                let (app, token) = (&app, &token);
                s.spawn(move || (0..5).map(|_| app.api_conversation(account, token, inbox, c)).collect::<Vec<i64>>())
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().unwrap()).collect()
    });
    numbers.sort_unstable();
    assert_eq!(numbers, (1..=20).collect::<Vec<i64>>());
}
