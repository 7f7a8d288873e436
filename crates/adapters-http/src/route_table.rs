//! The route table: which methods the API serves on a path, read from the OpenAPI document (every operation is
//! listed there once), and the default service that answers unmatched requests with 404 or 405 from it.
//!
//! It sits above both `openapi` and `error`, so the error type depends on nothing that depends on it.

use std::sync::OnceLock;

use actix_web::dev::ResourceDef;
use actix_web::http::{header, Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse, ResponseError};

use crate::error::ApiError;
use crate::openapi::document;

/// The methods the API serves on `path`; empty when no route matches it.
pub fn methods_for_path(path: &str) -> Vec<Method> {
    static TABLE: OnceLock<Vec<(ResourceDef, Vec<Method>)>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        document()
            .paths
            .paths
            .iter()
            .map(|(pattern, item)| {
                let methods = [
                    (Method::GET, item.get.is_some()),
                    (Method::POST, item.post.is_some()),
                    (Method::PUT, item.put.is_some()),
                    (Method::PATCH, item.patch.is_some()),
                    (Method::DELETE, item.delete.is_some()),
                ]
                .into_iter()
                .filter_map(|(m, present)| present.then_some(m))
                .collect();
                (ResourceDef::new(pattern.as_str()), methods)
            })
            .collect()
    });
    // `/contacts/search` also matches `/contacts/{id}`: list each method once
    let mut methods: Vec<Method> = Vec::new();
    for method in table.iter().filter(|(def, _)| def.is_match(path)).flat_map(|(_, m)| m.iter()) {
        if !methods.contains(method) {
            methods.push(method.clone());
        }
    }
    methods
}

/// The default service: 405 with `Allow` when the path exists under another method, 404 otherwise.
pub async fn unmatched_route(req: HttpRequest) -> HttpResponse {
    let allowed = methods_for_path(req.path());
    if allowed.is_empty() {
        return ApiError::new(
            StatusCode::NOT_FOUND,
            "Route not found",
            "path",
            "route_not_found",
            "no route matches this path",
        )
        .error_response();
    }
    let allow = allowed.iter().map(Method::as_str).collect::<Vec<_>>().join(", ");
    let mut response = ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "Method not allowed",
        "method",
        "method_not_allowed",
        &format!("this path accepts {allow}"),
    )
    .error_response();
    if let Ok(value) = header::HeaderValue::from_str(&allow) {
        response.headers_mut().insert(header::ALLOW, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_table_knows_methods() {
        assert_eq!(methods_for_path("/api/v1/accounts/7/actions/contact_merge"), vec![Method::POST]);
        assert!(methods_for_path("/api/v1/unknown").is_empty());
    }

    #[test]
    fn a_path_with_a_literal_and_a_parameter_lists_each_method_once() {
        let methods = methods_for_path("/api/v1/accounts/7/contacts/search");
        assert_eq!(methods.iter().filter(|m| **m == Method::GET).count(), 1, "{methods:?}");
    }
}
