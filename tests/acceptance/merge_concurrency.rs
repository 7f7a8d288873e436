//! Merges racing each other: never a deadlock, a lost or orphaned row, a half merge, or a 5xx.

use std::sync::{Arc, Barrier};
use std::thread;

use coalesce_tests::TestApp;
use domain::AccountId;

fn totals(app: &TestApp) -> [i64; 4] {
    [
        app.count("SELECT count(*) AS n FROM conversations"),
        app.count("SELECT count(*) AS n FROM messages"),
        app.count("SELECT count(*) AS n FROM notes"),
        app.count("SELECT count(*) AS n FROM contact_inboxes"),
    ]
}

/// Runs the merges at once (released together by a barrier) and returns their statuses in order.
fn race(app: &Arc<TestApp>, account: AccountId, token: &str, merges: &[(i64, i64)]) -> Vec<u16> {
    let barrier = Arc::new(Barrier::new(merges.len()));
    let handles: Vec<_> = merges
        .iter()
        .map(|&(base, mergee)| {
            let (app, barrier, token) = (Arc::clone(app), Arc::clone(&barrier), token.to_owned());
            thread::spawn(move || {
                barrier.wait();
                app.merge(account, &token, base, mergee).status
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().expect("merge thread")).collect()
}

#[test]
fn opposite_merges_one_wins_the_other_is_404() {
    let app = Arc::new(TestApp::spawn());
    let (account, token) = app.account_with_admin();
    let inbox = app.insert_inbox(account, "Race");
    for _ in 0..10 {
        let a = app.insert_contact(account, "A", None, None, None);
        let b = app.insert_contact(account, "B", None, None, None);
        app.give_rows(account, a, inbox, 3, 1, &["a"]);
        app.give_rows(account, b, inbox, 4, 1, &["b"]);
        let before = totals(&app);
        let mut statuses = race(&app, account, &token, &[(a, b), (b, a)]);
        statuses.sort_unstable();
        assert_eq!(statuses, [200, 404], "exactly one of A<-B and B<-A succeeds");
        assert_eq!(totals(&app), before, "nothing lost");
        let survivors = app.count(&format!("SELECT count(*) AS n FROM contacts WHERE id IN ({a}, {b})"));
        assert_eq!(survivors, 1);
        let survivor = app.count(&format!("SELECT id AS n FROM contacts WHERE id IN ({a}, {b})"));
        assert_eq!(app.count(&format!("SELECT count(*) AS n FROM conversations WHERE contact_id = {survivor}")), 7);
    }
}

#[test]
fn chains_keep_every_conversation() {
    let app = Arc::new(TestApp::spawn());
    let (account, token) = app.account_with_admin();
    let inbox = app.insert_inbox(account, "Chains");
    for _ in 0..5 {
        let ids: Vec<i64> = (0..4).map(|i| app.insert_contact(account, &format!("C{i}"), None, None, None)).collect();
        for (i, id) in ids.iter().enumerate() {
            app.give_rows(account, *id, inbox, i64::try_from(i).unwrap() + 1, 1, &["chain"]);
        }
        let before = totals(&app);
        let statuses = race(&app, account, &token, &[(ids[0], ids[1]), (ids[1], ids[2]), (ids[2], ids[3])]);
        assert!(statuses.iter().all(|s| *s == 200 || *s == 404), "{statuses:?}");
        assert!(statuses.contains(&200));
        assert_eq!(totals(&app), before, "every conversation, message, note and contact inbox survives");
        let list = ids.iter().map(ToString::to_string).collect::<Vec<_>>().join(",");
        let owned = app.count(&format!("SELECT count(*) AS n FROM conversations WHERE contact_id IN ({list})"));
        assert_eq!(owned, 10, "the chain's 1+2+3+4 conversations still belong to its surviving contacts");
        let merged = statuses.iter().filter(|s| **s == 200).count();
        let remaining = app.count(&format!("SELECT count(*) AS n FROM contacts WHERE id IN ({list})"));
        assert_eq!(remaining, 4 - i64::try_from(merged).unwrap(), "each successful merge removed exactly one contact");
    }
}

#[test]
fn two_hundred_random_merges_lose_nothing() {
    let app = Arc::new(TestApp::spawn());
    let (account, token) = app.account_with_admin();
    let inbox = app.insert_inbox(account, "Random");
    let ids: Vec<i64> = (0..50).map(|i| app.insert_contact(account, &format!("R{i}"), None, None, None)).collect();
    for (i, id) in ids.iter().enumerate() {
        app.give_rows(account, *id, inbox, 2, 1, &["common", if i % 2 == 0 { "even" } else { "odd" }]);
    }
    let before = totals(&app);
    let threads = 10;
    let per_thread = 200 / threads;
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (app, token, ids) = (Arc::clone(&app), token.clone(), ids.clone());
            thread::spawn(move || {
                // a small deterministic generator per thread: reproducible, and different across threads
                let mut state: u64 = 0x9E37_79B9_7F4A_7C15 ^ (t as u64 + 1);
                let len = ids.len();
                let mut next = move || {
                    state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                    usize::try_from(state >> 33).unwrap() % len
                };
                (0..per_thread)
                    .map(|_| {
                        let (b, m) = (ids[next()], ids[next()]);
                        (b, m, app.merge(account, &token, b, m).status)
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let results: Vec<(i64, i64, u16)> = handles.into_iter().flat_map(|h| h.join().expect("thread")).collect();
    assert_eq!(results.len(), 200);
    assert!(results.iter().all(|r| r.2 == 200 || r.2 == 404), "only 200 and 404: {results:?}");
    assert_eq!(totals(&app), before, "merges move rows, they never lose them");
    let real_merges = results.iter().filter(|(b, m, s)| *s == 200 && b != m).count();
    assert_eq!(app.count("SELECT count(*) AS n FROM contacts"), 50 - i64::try_from(real_merges).unwrap());
    assert_eq!(app.count("SELECT count(*) AS n FROM contact_merges"), i64::try_from(real_merges).unwrap());
    assert_eq!(
        app.count("SELECT count(*) AS n FROM outbox_events WHERE event_type = 'contact.merged'"),
        i64::try_from(real_merges).unwrap()
    );
    // Labels end as a union: every surviving contact carries 'common' exactly once.
    assert_eq!(
        app.count("SELECT count(*) AS n FROM contact_labels WHERE label = 'common'"),
        app.count("SELECT count(*) AS n FROM contacts")
    );
}
