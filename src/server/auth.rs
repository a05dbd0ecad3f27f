//! API key checks: with a key configured, every request must carry `Authorization: Key KEY`,
//! as the hosted API's clients send it. Owns the check and its 401 answers; must not look at
//! anything but the header.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::api;

use super::reply::Failure;

/// Middleware: passes the request on only with the right key.
pub async fn require_key(State(key): State<Arc<str>>, request: Request, next: Next) -> Response {
    match check(request.headers(), &key) {
        Ok(()) => next.run(request).await,
        Err(why) => {
            Failure::new(StatusCode::UNAUTHORIZED, api::StatusCode::KeyInvalid, why).into_response()
        }
    }
}

/// The same check for gRPC calls, whose metadata travels as headers.
pub(super) fn check(headers: &HeaderMap, key: &str) -> Result<(), &'static str> {
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Err("this server needs an API key: send the header `Authorization: Key <key>`");
    };
    let presented = value
        .to_str()
        .ok()
        .and_then(|v| v.trim().split_once(' '))
        // Authentication schemes are case-insensitive (RFC 9110 §11.1).
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("key"))
        .map(|(_, token)| token.trim());
    match presented {
        None => Err("the Authorization header must read `Key <key>`"),
        Some(token) if same(token.as_bytes(), key.as_bytes()) => Ok(()),
        Some(_) => Err("the API key is not valid"),
    }
}

/// Compares in time that depends on the lengths only, so response timing does not tell an
/// attacker how much of a guess was right.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with(value: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(v) = value {
            headers.insert(AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        }
        headers
    }

    #[test]
    fn keys() {
        assert!(check(&with(Some("Key s3cret")), "s3cret").is_ok());
        assert!(check(&with(Some("key  s3cret ")), "s3cret").is_ok());
        for bad in [
            None,
            Some("s3cret"),
            Some("Bearer s3cret"),
            Some("Key s3cre"),
            Some("Key s3cret2"),
        ] {
            assert!(check(&with(bad), "s3cret").is_err(), "{bad:?}");
        }
    }
}
