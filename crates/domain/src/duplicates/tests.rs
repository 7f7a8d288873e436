#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

fn person(name: &str, emails: &[&str]) -> Profile {
    Profile { name: name.into(), emails: emails.iter().map(|e| (*e).to_owned()).collect(), ..Profile::default() }
}

fn codes(a: &Assessment) -> Vec<&'static str> {
    a.reasons.iter().map(|r| r.code.as_str()).collect()
}

fn assess_names(a: &Profile, b: &Profile) -> Option<Assessment> {
    assess(a, b, trigram_similarity(&a.name, &b.name))
}

#[test]
fn trigram_similarity_is_pg_trgm_s() {
    // values PostgreSQL answers for similarity(lower(a), lower(b))
    assert!((trigram_similarity("Jo Doe", "J. Doe") - 0.625).abs() < 1e-9);
    assert!((trigram_similarity("Jonathan Doe", "jonathon doe") - 0.625).abs() < 1e-9);
    assert!((trigram_similarity("word", "word") - 1.0).abs() < 1e-9);
    assert!((trigram_similarity("john smith", "john brown") - 5.0 / 17.0).abs() < 1e-9);
    assert!(trigram_similarity("", "") == 0.0);
    assert!(trigram_similarity("abc", "") == 0.0);
}

#[test]
fn keys() {
    assert_eq!(email_local_key("Jo.Doe+news@Acme.example").as_deref(), Some("jodoe"));
    assert_eq!(email_local_key("@x"), None);
    assert_eq!(email_domain("jo@acme.example"), Some("acme.example"));
    assert_eq!(email_domain("jo@"), None);
    assert_eq!(name_keys("Jo Q. Doe"), ["joqdoe", "jodoe", "doejo", "jdoe"]);
    assert_eq!(name_keys("Jo Doe"), ["jodoe", "doejo", "jdoe"]);
    assert_eq!(name_keys("Cher"), ["cher"]);
    assert!(name_keys(" .. ").is_empty());
    assert_eq!(source_key("4915112345678").as_deref(), Some("+4915112345678"));
    assert_eq!(source_key("whatsapp:+49 151 1234-5678").as_deref(), Some("+4915112345678"));
    assert_eq!(source_key("Jo@Doe.example").as_deref(), Some("jo@doe.example"));
    assert_eq!(source_key("123456"), None, "too short for a phone number");
    assert_eq!(source_key("1234567890123456"), None, "too long for a phone number");
    assert_eq!(source_key("a1b2c3d4-0000-4000-8000-000000000000"), None);
    assert_eq!(source_key("averyveryverylongprefix:4915112345678"), None);
    assert_eq!(source_key("web-jo"), None);
    assert!(is_free_mail("gmail.com") && is_free_mail("Yahoo.co.uk") && !is_free_mail("acme.example"));
}

#[test]
fn the_same_local_part_at_another_domain_with_the_same_name_is_near_certain() {
    let a = person("Jo Doe", &["jo.doe@acme.example"]);
    let b = person("Jo Doe", &["jodoe@gmail.com"]);
    let found = assess_names(&a, &b).unwrap();
    assert_eq!(codes(&found), ["same_email_local_part", "similar_name"]);
    assert_eq!(found.confidence, 0.85);
    assert_eq!(found.reasons[0].detail, "jo.doe@acme.example and jodoe@gmail.com");
    assert_eq!(found.reasons[0].code.field(), "email");
    assert_eq!(found.reasons[1].detail, "similarity 1.00");
    assert_eq!(found.reasons[1].code.field(), "name");
}

#[test]
fn a_name_spelling_the_other_email_is_found_both_ways() {
    let named = person("Jo Doe", &[]);
    let mailed = person("Support ticket", &["doe.jo@acme.example"]);
    for (a, b) in [(&named, &mailed), (&mailed, &named)] {
        let found = assess_names(a, b).unwrap();
        assert_eq!(codes(&found), ["name_matches_email"]);
        assert_eq!(found.confidence, 0.7);
        assert_eq!(found.reasons[0].detail, "Jo Doe spells doe.jo@acme.example");
    }
    // four letters are weak, three are nothing
    let weak = assess(&person("Al Boe", &[]), &person("x", &["aboe@y.example"]), 0.0).unwrap();
    assert_eq!(weak.confidence, 0.35);
    assert_eq!(assess(&person("J Do", &[]), &person("x", &["jdo@y.example"]), 0.0), None);
}

#[test]
fn namesakes_whose_emails_spell_their_own_names_are_only_alike_by_name() {
    let a = person("Anna Berg", &["anna.berg@gmail.com"]);
    let b = person("Anna Berg", &["annaberg@company7.example"]);
    // each name spells the other's email, but also its own: the same name, not one more piece of evidence
    let found = assess_names(&a, &b).unwrap();
    assert!(!codes(&found).contains(&"name_matches_email"), "{found:?}");
    let stranger = person("Anna Berg", &["a.berg77@yahoo.com"]);
    assert_eq!(assess_names(&stranger, &person("Anna Berg", &["anna.berg@gmail.com"])).unwrap().confidence, 0.5);
    // a record whose own name does not spell its email is evidence
    let form = person("Webshop order", &["anna.berg@gmail.com"]);
    assert_eq!(codes(&assess_names(&person("Anna Berg", &[]), &form).unwrap()), ["name_matches_email"]);
}

#[test]
fn a_channel_address_equal_to_the_other_phone_or_email() {
    let phone = Profile { name: "A".into(), phones: vec!["+4915112345678".into()], ..Profile::default() };
    let wa = Profile { name: "B".into(), source_ids: vec!["4915112345678".into()], ..Profile::default() };
    let found = assess(&phone, &wa, 0.0).unwrap();
    assert_eq!(codes(&found), ["source_id_matches_phone"]);
    assert_eq!(found.confidence, 0.9);
    assert_eq!(found.reasons[0].detail, "channel address 4915112345678 is +4915112345678");
    assert_eq!(found.reasons[0].code.field(), "phone_number");
    assert_eq!(assess(&wa, &phone, 0.0).unwrap().confidence, 0.9, "symmetric");

    let mail = person("A", &["jo@doe.example"]);
    let chan = Profile { name: "B".into(), source_ids: vec!["Jo@Doe.example".into()], ..Profile::default() };
    let found = assess(&chan, &mail, 0.0).unwrap();
    assert_eq!(codes(&found), ["source_id_matches_email"]);
    assert_eq!(found.reasons[0].code.field(), "email");
}

#[test]
fn a_company_domain_counts_only_with_a_similar_name() {
    let a = person("Maria Garcia", &["maria@acme.example"]);
    let b = person("Maria Garcia", &["mg@acme.example"]);
    let found = assess_names(&a, &b).unwrap();
    assert_eq!(codes(&found), ["same_company_domain", "similar_name"]);
    assert_eq!(found.confidence, 0.8);
    assert_eq!(found.reasons[0].detail, "both at acme.example");
    // colleagues: same domain, other names
    assert_eq!(assess_names(&a, &person("Maria Lopez", &["lopez@acme.example"])), None);
    // free mail says nothing
    let c = person("Maria Garcia", &["maria.g@gmail.com"]);
    let d = person("Maria Garcia", &["garcia.m@gmail.com"]);
    assert_eq!(codes(&assess_names(&c, &d).unwrap()), ["similar_name"]);
}

#[test]
fn a_similar_name_alone_is_well_below_and_a_common_one_word_name_is_nothing() {
    let typo = assess_names(&person("Jonathan Doe", &[]), &person("Jonathon Doe", &[]));
    assert_eq!(typo, None, "similarity 0.625 weighs 0.225");
    let close = assess(&person("Jonathan Doe", &[]), &person("Jonathon Doe", &[]), 0.9).unwrap();
    assert_eq!((codes(&close), close.confidence), (vec!["similar_name"], 0.39));
    let same = assess_names(&person("John Smith", &[]), &person("John Smith", &[])).unwrap();
    assert_eq!(same.confidence, 0.5);
    assert_eq!(assess_names(&person("John", &[]), &person("John", &[])), None, "0.25 is under the minimum");
    assert_eq!(assess_names(&person("John Smith", &[]), &person("John Brown", &[])), None);
    assert_eq!(assess(&person("", &[]), &person("", &[]), 1.0), None, "no name, no reason");
}

#[test]
fn role_addresses_and_identical_emails_are_no_reason() {
    assert_eq!(assess(&person("A", &["info@a.example"]), &person("B", &["info@b.example"]), 0.0), None);
    assert_eq!(assess(&person("Info", &[]), &person("B", &["info@b.example"]), 0.0), None);
    let short = assess(&person("A", &["jo@a.example"]), &person("B", &["jo@b.example"]), 0.0).unwrap();
    assert_eq!(short.confidence, 0.35);
    assert_eq!(assess(&person("A", &["jo@a.example"]), &person("B", &["jo@a.example"]), 0.0), None);
}

#[test]
fn agreeing_signals_approach_but_never_reach_one() {
    assert_eq!(combine([0.9, 0.9, 0.9]), 0.99);
    assert_eq!(combine([0.5, 0.6]), 0.8);
    assert_eq!(combine([]), 0.0);
    assert_eq!(combine([2.0]), 0.99, "weights are clamped");
    let a = Profile {
        name: "Jo Doe".into(),
        emails: vec!["jo.doe@acme.example".into()],
        phones: vec!["+4915112345678".into()],
        ..Profile::default()
    };
    let b = Profile {
        name: "Jo Doe".into(),
        emails: vec!["jo.doe@gmail.com".into()],
        source_ids: vec!["4915112345678".into()],
        ..Profile::default()
    };
    let found = assess_names(&a, &b).unwrap();
    assert_eq!(found.confidence, 0.99);
    assert_eq!(found.reasons.len(), 3);
    assert_eq!(found.reasons[0].code, ReasonCode::SourceIdMatchesPhone, "strongest first");
}

#[test]
fn codes_are_stable() {
    let all: Vec<&str> = ReasonCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(
        all,
        [
            "source_id_matches_phone",
            "source_id_matches_email",
            "same_email_local_part",
            "name_matches_email",
            "same_company_domain",
            "similar_name"
        ]
    );
}

#[test]
fn a_common_name_weighs_less() {
    let (a, b) = (person("John Smith", &[]), person("John Smith", &[]));
    assert_eq!(assess_among(&a, &b, 1.0, 2).unwrap().confidence, 0.5, "two namesakes: not common yet");
    assert_eq!(assess_among(&a, &b, 1.0, 3), None, "the fourth John Smith is nobody's duplicate by name alone");
    let (c, d) = (person("John Smith", &["js@acme.example"]), person("John Smith", &["john@acme.example"]));
    assert_eq!(assess_among(&c, &d, 1.0, 3).unwrap().confidence, 0.68, "with other evidence it still counts");
}

#[test]
fn a_suggestion_at_exactly_the_minimum_confidence_is_kept() {
    // similarity 0.75 of a two-word name weighs 0.15 + 0.6 × 0.25 = 0.3, the minimum itself
    let at = assess(&person("Jonathan Doe", &[]), &person("Jonathon Doe", &[]), 0.75).unwrap();
    assert_eq!((codes(&at), at.confidence), (vec!["similar_name"], MIN_CONFIDENCE));
}

#[test]
fn a_local_part_of_four_characters_is_a_full_signal_and_three_a_weak_one() {
    let four = assess(&person("Ann Lee", &["abcd@one.example"]), &person("Bob Ray", &["abcd@two.example"]), 0.0);
    assert_eq!(four.map(|a| (codes(&a), a.confidence)), Some((vec!["same_email_local_part"], 0.7)));
    let three = assess(&person("Ann Lee", &["abc@one.example"]), &person("Bob Ray", &["abc@two.example"]), 0.0);
    assert_eq!(three.map(|a| (codes(&a), a.confidence)), Some((vec!["same_email_local_part"], 0.35)));
}
