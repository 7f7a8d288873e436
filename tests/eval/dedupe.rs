//! `make dedupe-eval`: the quality of the duplicate suggestions, measured on a labelled population.
//!
//! Starts the real server over a fresh database (as the acceptance tests do), creates a population over HTTP
//! and reads the account's suggested pairs back over HTTP. The population (seeded, so every run is the same):
//! - people entered twice, in five ways: the same email local part at another domain (name kept or with a
//!   typo); a typo in the name with an email on that record that spells the name right; a
//!   phone number on one record and the same number as a WhatsApp channel address on the other; a name on one
//!   record spelling the email of the other (`Anna Kowalski` ↔ `anna.kowalski@…`); the same name at the same
//!   company domain with another local part;
//! - look-alike strangers: the same common first names with other last names, colleagues at the same company
//!   domains, and namesakes (the same full name at two free-mail providers, the local parts written otherwise).
//!
//! Reports precision and recall at confidence ≥ 0.8 and ≥ 0.5 (and recall per kind of duplicate), and fails
//! when precision at 0.8 is under 0.9 or recall at 0.5 under 0.8.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::print_stdout, clippy::cast_precision_loss)]

use std::collections::{BTreeMap, BTreeSet};

use coalesce_tests::{json, TestApp};
use domain::AccountId;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

const FIRST: [&str; 60] = [
    "John",
    "Maria",
    "Michael",
    "Anna",
    "David",
    "Laura",
    "James",
    "Sarah",
    "Robert",
    "Emma",
    "Daniel",
    "Julia",
    "Thomas",
    "Sofia",
    "Peter",
    "Elena",
    "Paul",
    "Lisa",
    "Mark",
    "Nina",
    "Lukas",
    "Clara",
    "Jonathan",
    "Hannah",
    "Ahmed",
    "Fatima",
    "Wei",
    "Mei",
    "Carlos",
    "Lucia",
    "Oliver",
    "Amelia",
    "Noah",
    "Olivia",
    "Liam",
    "Mia",
    "Elias",
    "Lea",
    "Felix",
    "Marie",
    "Omar",
    "Leila",
    "Ivan",
    "Olga",
    "Mateo",
    "Valentina",
    "Hugo",
    "Chloe",
    "Arjun",
    "Priya",
    "Kenji",
    "Yuki",
    "Samuel",
    "Grace",
    "Adam",
    "Eva",
    "Jakub",
    "Zofia",
    "Finn",
    "Ida",
];
const LAST: [&str; 100] = [
    "Smith",
    "Miller",
    "Garcia",
    "Kowalski",
    "Novak",
    "Schmidt",
    "Rossi",
    "Dubois",
    "Jensen",
    "Silva",
    "Chen",
    "Wang",
    "Khan",
    "Brown",
    "Taylor",
    "Wilson",
    "Martin",
    "Lopez",
    "Gonzalez",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Hoffmann",
    "Nowak",
    "Horvat",
    "Petrov",
    "Ivanova",
    "Larsen",
    "Nielsen",
    "Berg",
    "Moreau",
    "Laurent",
    "Fontaine",
    "Romano",
    "Ricci",
    "Greco",
    "Costa",
    "Santos",
    "Johnson",
    "Williams",
    "Jones",
    "Davis",
    "Anderson",
    "Thomas",
    "Moore",
    "Jackson",
    "White",
    "Harris",
    "Clark",
    "Lewis",
    "Walker",
    "Hall",
    "Young",
    "King",
    "Wright",
    "Scott",
    "Green",
    "Baker",
    "Adams",
    "Nelson",
    "Hill",
    "Campbell",
    "Mitchell",
    "Roberts",
    "Carter",
    "Phillips",
    "Evans",
    "Turner",
    "Torres",
    "Parker",
    "Collins",
    "Edwards",
    "Stewart",
    "Flores",
    "Morris",
    "Nguyen",
    "Murphy",
    "Rivera",
    "Cook",
    "Rogers",
    "Morgan",
    "Peterson",
    "Cooper",
    "Reed",
    "Bailey",
    "Bell",
    "Gomez",
    "Kelly",
    "Howard",
    "Ward",
    "Cox",
    "Diaz",
    "Richardson",
    "Wood",
    "Watson",
    "Brooks",
    "Bennett",
    "Gray",
];
const FREE: [&str; 6] = ["gmail.com", "yahoo.com", "outlook.com", "gmx.de", "icloud.com", "web.de"];
const PEOPLE_PER_KIND: usize = 60;
const STRANGERS: usize = 700;
const NAMESAKES: usize = 30;

/// Enough companies that two strangers of the same name rarely share one.
fn company(rng: &mut StdRng) -> String {
    format!("company{}.example", rng.random_range(0..120))
}

fn pick<'a>(rng: &mut StdRng, from: &[&'a str]) -> &'a str {
    from[rng.random_range(0..from.len())]
}

/// A typo: one letter dropped, doubled or swapped with its neighbour (never the first letter).
fn typo(rng: &mut StdRng, word: &str) -> String {
    let mut c: Vec<char> = word.chars().collect();
    let i = rng.random_range(1..c.len());
    match rng.random_range(0..3) {
        0 if c.len() > 4 => {
            c.remove(i);
        }
        1 => c.insert(i, c[i]),
        _ if i + 1 < c.len() => c.swap(i, i + 1),
        _ => c.insert(i, c[i]),
    }
    c.into_iter().collect()
}

fn local(first: &str, last: &str) -> String {
    format!("{}.{}", first.to_lowercase(), last.to_lowercase())
}

struct Population {
    app: TestApp,
    account: AccountId,
    token: String,
    inbox: i64,
    serial: u64,
    /// (low, high) → kind of duplicate
    truth: BTreeMap<(i64, i64), &'static str>,
}

impl Population {
    fn create(&mut self, mut body: Value) -> i64 {
        self.serial += 1;
        // every email is unique in an account: a clash of two generated strangers gets a number
        if let Some(email) = body["email"].as_str().map(str::to_owned) {
            let (l, d) = email.split_once('@').unwrap();
            let r = self.app.post(&format!("/api/v1/accounts/{}/contacts", self.account), &self.token, &body);
            if r.status == 200 {
                return r.body["payload"]["contact"]["id"].as_i64().unwrap();
            }
            body["email"] = json!(format!("{l}{}@{d}", self.serial));
        }
        self.app.api_contact(self.account, &self.token, &body)
    }

    fn twice(&mut self, kind: &'static str, a: Value, b: Value) {
        let (a, b) = (self.create(a), self.create(b));
        self.truth.insert((a.min(b), a.max(b)), kind);
    }
}

fn main() {
    let mut rng = StdRng::seed_from_u64(15);
    let app = TestApp::spawn();
    let (account, token) = app.account_with_admin();
    let inbox = app.api_inbox(account, &token, "WhatsApp");
    let mut p = Population { app, account, token, inbox, serial: 0, truth: BTreeMap::new() };

    for i in 0..PEOPLE_PER_KIND {
        // 1. the same local part at another domain; the name kept, or with a typo every other time
        let (f, l) = (pick(&mut rng, &FIRST), pick(&mut rng, &LAST));
        let name2 = if i % 2 == 0 { format!("{f} {l}") } else { format!("{f} {}", typo(&mut rng, l)) };
        let (work, free) = (company(&mut rng), pick(&mut rng, &FREE));
        p.twice(
            "same local part, other domain",
            json!({"name": format!("{f} {l}"), "email": format!("{}@{work}", local(f, l))}),
            json!({"name": name2, "email": format!("{}@{free}", local(f, l))}),
        );

        // 2. a typo in the name field; the email on that record spells the name right
        let (f, l) = (pick(&mut rng, &FIRST), pick(&mut rng, &LAST));
        let work = company(&mut rng);
        let free = pick(&mut rng, &FREE);
        let misspelt =
            if i % 2 == 0 { format!("{} {l}", typo(&mut rng, f)) } else { format!("{f} {}", typo(&mut rng, l)) };
        p.twice(
            "name typo, email spells the name",
            json!({"name": format!("{f} {l}"), "email": format!("{}@{work}", f.to_lowercase())}),
            json!({"name": misspelt, "email": format!("{}@{free}", local(f, l))}),
        );

        // 3. a phone number on one record, the same number as a WhatsApp channel address on the other
        let (f, l) = (pick(&mut rng, &FIRST), pick(&mut rng, &LAST));
        let number: u64 = rng.random_range(1_000_000..9_999_999);
        let second = if i % 2 == 0 { f.to_owned() } else { format!("{f} {}", &l[..1]) };
        p.twice(
            "phone and channel address",
            json!({"name": format!("{f} {l}"), "phone_number": format!("+49151{number}")}),
            json!({"name": second, "inbox_id": p.inbox, "source_id": format!("49151{number}")}),
        );

        // 4. a name spelling the other record's email
        let (f, l) = (pick(&mut rng, &FIRST), pick(&mut rng, &LAST));
        let free = pick(&mut rng, &FREE);
        p.twice(
            "name spells the email",
            json!({"name": format!("{f} {l}")}),
            json!({"name": format!("{}. {l}", &f[..1]), "email": format!("{}@{free}", local(f, l))}),
        );

        // 5. the same name at the same company, another local part
        let (f, l) = (pick(&mut rng, &FIRST), pick(&mut rng, &LAST));
        let work = company(&mut rng);
        p.twice(
            "same name, same company",
            json!({"name": format!("{f} {l}"), "email": format!("{}@{work}", f.to_lowercase())}),
            json!({"name": format!("{f} {l}"), "email": format!("{}{}@{work}", l.to_lowercase(), rng.random_range(1..99))}),
        );
    }

    // look-alike strangers: common first names with other last names, colleagues at shared companies, namesakes
    for i in 0..STRANGERS {
        let (f, l) = (pick(&mut rng, &FIRST), pick(&mut rng, &LAST));
        let domain = if i % 3 == 0 { pick(&mut rng, &FREE).to_owned() } else { company(&mut rng) };
        let local = match i % 4 {
            0 => local(f, l),
            1 => format!("{}{}", f.to_lowercase(), rng.random_range(1..999)),
            2 => format!("{}.{}", &f[..1].to_lowercase(), l.to_lowercase()),
            _ => format!("{}{}", l.to_lowercase(), rng.random_range(1..99)),
        };
        p.create(json!({"name": format!("{f} {l}"), "email": format!("{local}@{domain}")}));
    }

    // namesakes: the same full name at two free-mail providers, the local parts written differently
    for _ in 0..NAMESAKES {
        let (f, l) = (pick(&mut rng, &FIRST), pick(&mut rng, &LAST));
        let (d1, d2) = (pick(&mut rng, &FREE), pick(&mut rng, &FREE));
        p.create(json!({"name": format!("{f} {l}"), "email": format!("{}@{d1}", local(f, l))}));
        let other = format!("{}{}{}", &f[..1].to_lowercase(), &l[..3].to_lowercase(), rng.random_range(10..99));
        p.create(json!({"name": format!("{f} {l}"), "email": format!("{other}@{d2}")}));
    }

    let found = suggested(&p);
    let contacts = p.serial;
    println!(
        "dedupe-eval: {contacts} contacts, {} labelled duplicate pairs, {} suggested pairs",
        p.truth.len(),
        found.len()
    );
    let mut ok = true;
    for (threshold, precision_target, recall_target) in [(0.8, Some(0.9), None), (0.5, None, Some(0.8))] {
        let at: BTreeSet<(i64, i64)> = found.iter().filter(|(_, (c, _))| *c >= threshold).map(|(k, _)| *k).collect();
        let tp = at.iter().filter(|k| p.truth.contains_key(k)).count();
        let precision = if at.is_empty() { 1.0 } else { tp as f64 / at.len() as f64 };
        let recall = tp as f64 / p.truth.len() as f64;
        println!(
            "confidence >= {threshold}: {} suggested, {tp} true: precision {precision:.3}, recall {recall:.3}",
            at.len()
        );
        ok &= precision_target.is_none_or(|t| precision >= t) && recall_target.is_none_or(|t| recall >= t);
    }
    let kinds: BTreeSet<&str> = p.truth.values().copied().collect();
    for kind in kinds {
        let pairs: Vec<&(i64, i64)> = p.truth.iter().filter(|(_, k)| **k == kind).map(|(pair, _)| pair).collect();
        let at = |t: f64| pairs.iter().filter(|pair| found.get(pair).is_some_and(|(c, _)| *c >= t)).count();
        println!("  {kind}: recall {}/{} at >= 0.8, {}/{} at >= 0.5", at(0.8), pairs.len(), at(0.5), pairs.len());
    }
    // what the strangers suggested at 0.8 or more had in common
    let mut false_positives: BTreeMap<&str, usize> = BTreeMap::new();
    for (pair, (c, codes)) in &found {
        if *c >= 0.8 && !p.truth.contains_key(pair) {
            *false_positives.entry(codes.as_str()).or_default() += 1;
        }
    }
    for (codes, n) in false_positives {
        println!("  strangers at >= 0.8 with {codes}: {n}");
    }
    println!("targets (precision >= 0.9 at 0.8, recall >= 0.8 at 0.5): {}", if ok { "met" } else { "MISSED" });
    if !ok {
        std::process::exit(1);
    }
}

/// Every suggested pair of the account with its confidence, read page by page over HTTP.
fn suggested(p: &Population) -> BTreeMap<(i64, i64), (f64, String)> {
    // suggestions are computed by the duplicates worker shortly after each change
    p.app.settle_duplicates_within(std::time::Duration::from_secs(120));
    let mut found = BTreeMap::new();
    for page in 1.. {
        let path = format!("/api/v1/accounts/{}/contact_duplicates?page={page}", p.account);
        let r = p.app.get(&path, &p.token);
        assert_eq!(r.status, 200, "{}", r.body);
        let items = r.body["payload"].as_array().unwrap();
        if items.is_empty() {
            break;
        }
        for pair in items {
            let (a, b) = (pair["contacts"][0]["id"].as_i64().unwrap(), pair["contacts"][1]["id"].as_i64().unwrap());
            let codes: Vec<&str> =
                pair["reasons"].as_array().unwrap().iter().map(|r| r["code"].as_str().unwrap()).collect();
            found.insert((a, b), (pair["confidence"].as_f64().unwrap(), codes.join("+")));
        }
    }
    found
}
