//! The contract check: every response any acceptance test receives is validated against the OpenAPI document the
//! server serves. Its status must be documented for the operation, and its body must match that status's schema,
//! so that the document can never promise less or other than the service answers (a client generated from it
//! parses every real response, success and error alike).
//!
//! Requests to paths that no operation serves (unknown routes, the Swagger UI, the document itself) are not
//! checked: there is no operation to hold them to.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::Value;

/// The served document and the validators built from it, one per (operation, status).
struct Contract {
    document: Value,
    validators: Mutex<HashMap<(String, String, String), Arc<jsonschema::Validator>>>,
}

fn contract() -> &'static Contract {
    static CONTRACT: OnceLock<Contract> = OnceLock::new();
    CONTRACT.get_or_init(|| {
        let json = adapters_http::openapi::document_json().expect("the document serializes");
        Contract { document: serde_json::from_str(&json).expect("the document is JSON"), validators: Mutex::default() }
    })
}

/// The path template of the operation that serves `path` with `method`: among the templates that match, the one
/// with the most literal segments (`/contacts/search` before `/contacts/{id}`).
pub fn operation_template(document: &Value, method: &str, path: &str) -> Option<String> {
    let path = path.split('?').next().unwrap_or(path);
    let segments: Vec<&str> = path.split('/').collect();
    let method = method.to_ascii_lowercase();
    document["paths"]
        .as_object()?
        .iter()
        .filter(|(_, item)| item.get(&method).is_some())
        .filter_map(|(template, _)| {
            let parts: Vec<&str> = template.split('/').collect();
            if parts.len() != segments.len() {
                return None;
            }
            let mut literals = 0;
            for (part, segment) in parts.iter().zip(&segments) {
                if part.starts_with('{') && part.ends_with('}') {
                    if segment.is_empty() {
                        return None;
                    }
                } else if part == segment {
                    literals += 1;
                } else {
                    return None;
                }
            }
            Some((literals, template.clone()))
        })
        .max_by_key(|(literals, _)| *literals)
        .map(|(_, template)| template)
}

/// A validator for `schema`, whose `$ref`s point into the document's components.
fn validator_for(document: &Value, schema: &Value) -> Result<jsonschema::Validator, String> {
    let mut root = schema.clone();
    if let Value::Object(map) = &mut root {
        map.insert("components".to_owned(), document["components"].clone());
    }
    jsonschema::draft202012::new(&root).map_err(|e| e.to_string())
}

/// Every example the document shows for a response (`example` or each of `examples`) matches that response's
/// schema: what Swagger UI shows a reader is a body the client could receive. Returns the problems found.
pub fn example_mismatches() -> Vec<String> {
    let document = &contract().document;
    let mut problems = Vec::new();
    for (template, item) in document["paths"].as_object().into_iter().flatten() {
        for (method, operation) in item.as_object().into_iter().flatten() {
            for (status, response) in operation["responses"].as_object().into_iter().flatten() {
                let Some(content) = response.pointer("/content/application~1json") else { continue };
                let Some(schema) = content.get("schema") else { continue };
                let validator = match validator_for(document, schema) {
                    Ok(v) => v,
                    Err(e) => {
                        problems.push(format!("{method} {template} {status}: invalid schema: {e}"));
                        continue;
                    }
                };
                let named =
                    content["examples"].as_object().into_iter().flatten().map(|(n, e)| (n.clone(), &e["value"]));
                let single = content.get("example").map(|e| ("example".to_owned(), e));
                for (name, value) in named.chain(single) {
                    for error in validator.iter_errors(value) {
                        problems.push(format!("{method} {template} {status} example {name}: {error}"));
                    }
                }
            }
        }
    }
    problems
}

/// Every operation of the document as `METHOD template`.
pub fn operations() -> Vec<String> {
    let document = &contract().document;
    document["paths"]
        .as_object()
        .into_iter()
        .flatten()
        .flat_map(|(template, item)| {
            item.as_object()
                .into_iter()
                .flatten()
                .map(move |(method, _)| format!("{} {template}", method.to_uppercase()))
        })
        .collect()
}

/// Checks one response against the document; panics naming the operation, the status and what is wrong.
/// Returns the operation (`METHOD template`) that answered, if any.
pub fn check(method: &str, path: &str, status: u16, text: &str) -> Option<String> {
    let contract = contract();
    let template = operation_template(&contract.document, method, path)?;
    let operation = format!("{} {template}", method.to_ascii_uppercase());
    let method = method.to_ascii_lowercase();
    let status = status.to_string();
    let responses = &contract.document["paths"][&template][&method]["responses"];
    let Some(documented) = responses.get(&status).or_else(|| responses.get("default")) else {
        panic!(
            "contract: {} {template} answered {status}, which the document does not list for it (it lists {:?}); \
             body: {text}",
            method.to_uppercase(),
            responses.as_object().map(|r| r.keys().collect::<Vec<_>>()).unwrap_or_default()
        );
    };
    let Some(schema) = documented.pointer("/content/application~1json/schema") else {
        assert!(
            text.is_empty(),
            "contract: {} {template} {status} is documented without a body but answered: {text}",
            method.to_uppercase()
        );
        return Some(operation);
    };
    let key = (template.clone(), method.clone(), status.clone());
    let validator = {
        let mut validators = contract.validators.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        validators
            .entry(key)
            .or_insert_with(|| {
                Arc::new(
                    validator_for(&contract.document, schema)
                        .unwrap_or_else(|e| panic!("contract: the schema of {template} {status} is invalid: {e}")),
                )
            })
            .clone()
    };
    let body: Value = serde_json::from_str(text).unwrap_or_else(|_| {
        panic!("contract: {} {template} {status} is documented as JSON but answered: {text:?}", method.to_uppercase())
    });
    let errors: Vec<String> = validator.iter_errors(&body).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(
        errors.is_empty(),
        "contract: {} {template} {status} does not match its documented schema:\n  {}\nbody: {body}",
        method.to_uppercase(),
        errors.join("\n  ")
    );
    Some(operation)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_segments_win_over_parameters() {
        let document = contract();
        assert_eq!(
            operation_template(&document.document, "GET", "/api/v1/accounts/1/contacts/search?q=a").as_deref(),
            Some("/api/v1/accounts/{account_id}/contacts/search")
        );
        assert_eq!(
            operation_template(&document.document, "GET", "/api/v1/accounts/1/contacts/7").as_deref(),
            Some("/api/v1/accounts/{account_id}/contacts/{id}")
        );
        assert_eq!(operation_template(&document.document, "GET", "/nowhere"), None);
        assert_eq!(operation_template(&document.document, "DELETE", "/api/v1/accounts/1/actions/contact_merge"), None);
    }

    #[test]
    fn every_example_matches_its_schema() {
        let problems = example_mismatches();
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    #[should_panic(expected = "does not match its documented schema")]
    fn a_body_of_another_shape_is_refused() {
        check("POST", "/api/v1/accounts/1/actions/contact_merge", 200, r#"{"id": "one", "payload": []}"#);
    }

    #[test]
    #[should_panic(expected = "does not list for it")]
    fn an_undocumented_status_is_refused() {
        check("POST", "/api/v1/accounts/1/actions/contact_merge", 418, "{}");
    }

    #[test]
    fn an_error_envelope_matches() {
        check(
            "POST",
            "/api/v1/accounts/1/actions/contact_merge",
            404,
            r#"{"description":"Resource could not be found","errors":[{"field":"mergee_contact_id","message":"gone","code":"merged"}],"merged_into":3}"#,
        );
    }
}
