//! The labeling app: the page that `annotask serve` serves from the binary itself (the files
//! of `web/`, embedded at build time), and the two things the page needs that the Tasks API
//! does not say (who a key belongs to, and an input's local file). Owns the app's paths, its
//! security headers and its Content-Security-Policy; must not decide task rules: the page does
//! its work through the same JSON API as any client.
//!
//! The page's routes (`/`, `/label/{task_id}`, `/review/{task_id}`, `/tasks/{task_id}`) all
//! answer the same shell, whose script routes by the path; the shell and its assets are served
//! without a key, since the page is what asks for one. Everything with data in it (the API,
//! [`media`], [`whoami`], [`team`]) stays behind the key check.

mod media;
mod team;

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Extension, Path};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;

use crate::api::{self, ApiStatus, Id, ok};

use super::auth::Caller;
use super::reply::{self, Failure};
use super::repos::Repos;

/// The page may load scripts, styles, fonts and data only from the server that served it.
/// Images are the one exception: a dataset may name its images by `http(s)` URL, and the page
/// shows those where they are (without a referrer); local images come as `blob:` URLs made
/// from what the page fetched with its key.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' blob: https: http:; connect-src 'self'; manifest-src 'self'; \
    base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// One file of `web/`.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

macro_rules! assets {
    ($($name:literal => $type:literal),* $(,)?) => {
        &[$(Asset {
            name: $name,
            content_type: $type,
            bytes: include_bytes!(concat!("../../../web/", $name)),
        }),*]
    };
}

/// Every file the page loads; nothing else is served under `/app/`.
const ASSETS: &[Asset] = assets! {
    "app.js" => "text/javascript; charset=utf-8",
    "api.js" => "text/javascript; charset=utf-8",
    "dom.js" => "text/javascript; charset=utf-8",
    "label.js" => "text/javascript; charset=utf-8",
    "regions.js" => "text/javascript; charset=utf-8",
    "review.js" => "text/javascript; charset=utf-8",
    "team.js" => "text/javascript; charset=utf-8",
    "app.css" => "text/css; charset=utf-8",
    "icon.svg" => "image/svg+xml",
};

const SHELL: &[u8] = include_bytes!("../../../web/index.html");

/// The page and its assets, served without a key.
pub fn pages() -> Router {
    let mut router = Router::new()
        .route("/app/{file}", get(asset))
        .route("/favicon.ico", get(favicon));
    for path in [
        "/",
        "/label/{task_id}",
        "/review/{task_id}",
        "/tasks/{task_id}",
    ] {
        router = router.route(path, get(shell));
    }
    router
}

/// What the page reads behind the key check: who the key is, inputs' local files, and the team
/// view's two reads (workers' agreement, the export formats that fit a task). `secrets`
/// are files never served wherever they lie (the keys file).
pub fn protected(repos: Arc<Repos>, secrets: Vec<PathBuf>) -> Router {
    Router::new()
        .route("/v2/users/me", get(whoami))
        .merge(team::router(repos.clone()))
        .merge(media::router(repos, secrets))
}

async fn shell() -> Response {
    let mut response = with_type(SHELL, "text/html; charset=utf-8");
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

async fn asset(Path(file): Path<String>, request: HeaderMap) -> Response {
    let Some(asset) = ASSETS.iter().find(|a| a.name == file) else {
        return Failure::new(
            StatusCode::NOT_FOUND,
            api::StatusCode::DoesNotExist,
            format!("the app has no file `{file}`"),
        )
        .into_response();
    };
    // The files change only with the binary: a revalidation is answered without the body.
    let etag = etag(asset.bytes);
    if request
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        set(&mut response, header::ETAG, &etag);
        return response;
    }
    let mut response = with_type(asset.bytes, asset.content_type);
    set(&mut response, header::ETAG, &etag);
    response
}

async fn favicon() -> Response {
    let icon = ASSETS
        .iter()
        .find(|a| a.name == "icon.svg")
        .expect("the icon is an asset");
    with_type(icon.bytes, icon.content_type)
}

/// A body of embedded bytes with the headers every file of the app carries.
fn with_type(bytes: &'static [u8], content_type: &'static str) -> Response {
    let mut response = Response::new(Body::from(bytes));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

fn set(response: &mut Response, name: HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, value);
    }
}

/// A file's entity tag: its FNV-1a hash, which is enough to tell two builds' files apart.
fn etag(bytes: &[u8]) -> String {
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("\"{hash:016x}\"")
}

#[derive(Serialize)]
struct UserResponse {
    status: ApiStatus,
    user: Id,
}

/// `GET /v2/users/me`, as the hosted API answers it for the key's user: how the page learns
/// who signed in. A server with one key (or none) knows no user, and says so with 404; the
/// page then asks for a user id.
async fn whoami(Extension(caller): Extension<Caller>) -> Result<Response, Failure> {
    match caller.0 {
        Some(id) => Ok(reply::json(&UserResponse {
            status: ok(),
            user: Id { id },
        })),
        None => Err(Failure::new(
            StatusCode::NOT_FOUND,
            api::StatusCode::DoesNotExist,
            "this server's key names no user: calls name their user in the path, /v2/users/{user_id}/apps/{app_id}/",
        )),
    }
}
