//! An input's local file (its image, or the text of a text input) served by input id, never by
//! a path the client sends. Owns the route; the rules are [`crate::layout`]'s, and the file is
//! opened only through [`crate::files::read_no_links`], which refuses links anywhere on the
//! path.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::get;

use crate::api;
use crate::inputs::file_url;
use crate::layout::{MediaKind, MediaSource, local_media_path, media_source};
use crate::server::blocking;
use crate::server::reply::Failure;
use crate::server::repos::Repos;
use crate::validate::check_id;

/// Larger files are not served: a photo is a few MiB, a scan a few tens.
pub const MAX_MEDIA_BYTES: u64 = 64 << 20;

/// What the media route needs besides the project: files that are never served wherever they
/// lie (the server's keys file).
#[derive(Clone)]
pub struct Media {
    repos: Arc<Repos>,
    secrets: Arc<[PathBuf]>,
}

/// `GET /app/media/{input_id}`: the input's local file.
pub fn router(repos: Arc<Repos>, secrets: Vec<PathBuf>) -> Router {
    Router::new()
        .route("/app/media/{input_id}", get(media))
        .with_state(Media {
            repos,
            secrets: secrets.into(),
        })
}

fn not_served(why: impl Into<String>) -> Failure {
    Failure::new(
        StatusCode::NOT_FOUND,
        api::StatusCode::DoesNotExist,
        why.into(),
    )
}

async fn media(
    State(media): State<Media>,
    Path(input_id): Path<String>,
) -> Result<Response, Failure> {
    check_id(&input_id).map_err(Failure::bad_request)?;
    let secrets = media.secrets.clone();
    let (bytes, kind) = blocking(media.repos, move |repos| {
        let repo = repos.checkout()?;
        let input = repo.inputs_json(&[&input_id])?.pop();
        let url = input
            .as_deref()
            .and_then(|json| file_url(json.get()))
            .ok_or_else(|| not_served(format!("input `{input_id}` names no image or text file")))?;
        let path = match media_source(&url) {
            MediaSource::Remote(_) => {
                return Err(not_served(format!(
                    "input `{input_id}`'s file is at a URL of its own; the page loads it from there"
                )));
            }
            MediaSource::Local(path) => path,
        };
        let refused = |why: &dyn std::fmt::Display| {
            not_served(format!(
                "input `{input_id}`'s file `{url}` is not served: {why}"
            ))
        };
        let (path, kind) = local_media_path(path).map_err(|why| refused(&why))?;
        let bytes = crate::files::read_no_links(repo.root(), &path, MAX_MEDIA_BYTES, &secrets)
            .map_err(|why| refused(&why))?;
        if !sniffed(kind, &bytes) {
            return Err(refused(&"the file does not hold what its extension says"));
        }
        Ok((bytes, kind))
    })
    .await?;
    let mut response = Response::new(Body::from(bytes));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(kind.content_type()),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Opened on its own, a served file runs nothing and loads nothing.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=60"),
    );
    Ok(response)
}

/// Whether a file's first bytes are what its kind says: an image's signature, or text that is
/// UTF-8 without NUL bytes. A `.png` that holds HTML is not served as anything.
fn sniffed(kind: MediaKind, bytes: &[u8]) -> bool {
    match kind {
        MediaKind::Png => bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        MediaKind::Jpeg => bytes.starts_with(&[0xff, 0xd8, 0xff]),
        MediaKind::Gif => bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a"),
        MediaKind::Webp => bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP",
        MediaKind::Avif => bytes.len() >= 12 && &bytes[4..8] == b"ftyp" && &bytes[8..11] == b"avi",
        MediaKind::Bmp => bytes.starts_with(b"BM"),
        MediaKind::Text => !bytes.contains(&0) && std::str::from_utf8(bytes).is_ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_must_match_the_extension() {
        assert!(sniffed(MediaKind::Png, b"\x89PNG\r\n\x1a\n...."));
        assert!(!sniffed(MediaKind::Png, b"<html><script>"));
        assert!(sniffed(MediaKind::Jpeg, &[0xff, 0xd8, 0xff, 0xe0]));
        assert!(sniffed(MediaKind::Text, "a cat, é".as_bytes()));
        assert!(!sniffed(MediaKind::Text, b"a\0b"));
        assert!(!sniffed(MediaKind::Text, &[0xff, 0xfe]));
    }
}
