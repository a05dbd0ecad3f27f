//! Which file a dataset's URL names in the project, and whether it may be read and shown: a
//! URL without a scheme is a path relative to the project's root; only image and text files
//! outside the project's private folders, reached without `..`, qualify, and only when their
//! bytes are what their extension says. Pure: must not do I/O (the server reads the file
//! through [`crate::files::read_no_links`], `validate` checks it with
//! [`crate::files::is_file_no_links`]).

use serde::Deserialize;

/// Folders of the project whose files are never served: the repository, the index, people's
/// work and the task definitions.
const PRIVATE_FOLDERS: [&str; 4] = [".git", ".annotask", "work", "tasks"];

/// What a dataset URL names.
#[derive(Debug, PartialEq, Eq)]
pub enum Source<'a> {
    /// An `http(s)` (or other scheme's) URL, which the page loads as it is.
    Remote(&'a str),
    /// A path relative to the project's root, checked by [`local_path`].
    Local(&'a str),
}

/// A dataset URL: with a scheme (`https:`, `data:`) it is remote, else a path in the project.
pub fn source_of(url: &str) -> Source<'_> {
    let scheme = url.split_once(':').map(|(s, _)| s).filter(|s| {
        s.len() > 1
            && s.starts_with(|c: char| c.is_ascii_alphabetic())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    });
    match scheme {
        Some(_) => Source::Remote(url),
        None => Source::Local(url),
    }
}

/// Why a local path is not served.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("the path is empty")]
    Empty,
    #[error(
        "the path is absolute; it must be relative to the project's root (the folder that holds tasks/)"
    )]
    Absolute,
    #[error("the path goes up with `..`; it must stay inside the project")]
    Up,
    #[error("the path has a backslash, a NUL or a control character")]
    Character,
    #[error("the path passes through a hidden file or folder (`{0}`)")]
    Hidden(String),
    #[error("the path is under the project's {0}/ folder, which is never served")]
    Private(String),
    #[error(
        "the file's extension is not one of an image (png, jpg, jpeg, gif, webp, avif, bmp) or text (txt)"
    )]
    Extension,
}

/// A served file's kind, from its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Png,
    Jpeg,
    Gif,
    Webp,
    Avif,
    Bmp,
    Text,
}

impl Kind {
    pub fn content_type(self) -> &'static str {
        match self {
            Kind::Png => "image/png",
            Kind::Jpeg => "image/jpeg",
            Kind::Gif => "image/gif",
            Kind::Webp => "image/webp",
            Kind::Avif => "image/avif",
            Kind::Bmp => "image/bmp",
            Kind::Text => "text/plain; charset=utf-8",
        }
    }
}

/// The kind a file name's extension says, in any case.
pub fn kind_of(path: &str) -> Option<Kind> {
    let (_, ext) = path.rsplit_once('.')?;
    Some(match ext.to_ascii_lowercase().as_str() {
        "png" => Kind::Png,
        "jpg" | "jpeg" => Kind::Jpeg,
        "gif" => Kind::Gif,
        "webp" => Kind::Webp,
        "avif" => Kind::Avif,
        "bmp" => Kind::Bmp,
        "txt" => Kind::Text,
        _ => return None,
    })
}

/// The path of a local dataset URL inside the project, normalised (`./` and repeated `/`
/// dropped), with its kind, or why it is not served. The URL is taken as it is written: no
/// percent-decoding, so `%2e%2e` is a file name, never a way up.
pub fn local_path(url: &str) -> Result<(String, Kind), Refused> {
    if url.is_empty() {
        return Err(Refused::Empty);
    }
    if url.chars().any(|c| c == '\\' || c.is_control()) {
        return Err(Refused::Character);
    }
    if url.starts_with('/') {
        return Err(Refused::Absolute);
    }
    let parts: Vec<&str> = url
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    if parts.is_empty() {
        return Err(Refused::Empty);
    }
    if parts.contains(&"..") {
        return Err(Refused::Up);
    }
    if let Some(hidden) = parts.iter().find(|p| p.starts_with('.')) {
        return Err(Refused::Hidden((*hidden).to_owned()));
    }
    // Compared without case: on a case-insensitive file system `Work/` is `work/`.
    if let Some(private) = PRIVATE_FOLDERS
        .iter()
        .find(|f| parts.len() > 1 && parts[0].eq_ignore_ascii_case(f))
    {
        return Err(Refused::Private((*private).to_owned()));
    }
    let path = parts.join("/");
    let kind = kind_of(&path).ok_or(Refused::Extension)?;
    Ok((path, kind))
}

/// Whether a file's first bytes are what its kind says: an image's signature, or text that is
/// UTF-8 without NUL bytes. A `.png` that holds HTML is not served as anything.
pub fn sniffed(kind: Kind, bytes: &[u8]) -> bool {
    match kind {
        Kind::Png => bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
        Kind::Jpeg => bytes.starts_with(&[0xff, 0xd8, 0xff]),
        Kind::Gif => bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a"),
        Kind::Webp => bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP",
        Kind::Avif => bytes.len() >= 12 && &bytes[4..8] == b"ftyp" && &bytes[8..11] == b"avi",
        Kind::Bmp => bytes.starts_with(b"BM"),
        Kind::Text => !bytes.contains(&0) && std::str::from_utf8(bytes).is_ok(),
    }
}

/// The part of an Input's JSON that names its file.
#[derive(Deserialize)]
struct InputFile {
    #[serde(default)]
    data: Option<InputData>,
}

#[derive(Deserialize)]
struct InputData {
    #[serde(default)]
    image: Option<Url>,
    #[serde(default)]
    text: Option<Url>,
}

#[derive(Deserialize)]
struct Url {
    #[serde(default)]
    url: Option<String>,
}

/// The URL an Input's JSON names for its content: its image's, else its text's.
pub fn url_of(input: &str) -> Option<String> {
    let input: InputFile = serde_json::from_str(input).ok()?;
    let data = input.data?;
    data.image
        .and_then(|i| i.url)
        .or_else(|| data.text.and_then(|t| t.url))
        .filter(|u| !u.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(url: &str, expected: Result<&str, Refused>) {
        assert_eq!(
            local_path(url).map(|(p, _)| p),
            expected.map(str::to_owned),
            "{url}"
        );
    }

    #[test]
    fn local_paths() {
        check("images/a.png", Ok("images/a.png"));
        check("./images//a.PNG", Ok("images/a.PNG"));
        check("a.jpeg", Ok("a.jpeg"));
        check("texts/a.txt", Ok("texts/a.txt"));
        check("images/%2e%2e/a.png", Ok("images/%2e%2e/a.png"));
        check("work.png", Ok("work.png"));
        check("", Err(Refused::Empty));
        check("./", Err(Refused::Empty));
        check("/etc/passwd.png", Err(Refused::Absolute));
        check("../a.png", Err(Refused::Up));
        check("images/../../a.png", Err(Refused::Up));
        check("images\\..\\a.png", Err(Refused::Character));
        check("a\0.png", Err(Refused::Character));
        check(".git/config", Err(Refused::Hidden(".git".into())));
        check("x/.git/a.png", Err(Refused::Hidden(".git".into())));
        check(
            ".annotask/index.png",
            Err(Refused::Hidden(".annotask".into())),
        );
        check("work/t/ann.png", Err(Refused::Private("work".into())));
        check("Work/t/ann.png", Err(Refused::Private("work".into())));
        check("tasks/a.png", Err(Refused::Private("tasks".into())));
        check("images/a.svg", Err(Refused::Extension));
        check("keys.yaml", Err(Refused::Extension));
        check("images/a", Err(Refused::Extension));
    }

    #[test]
    fn sources() {
        assert_eq!(source_of("images/a.png"), Source::Local("images/a.png"));
        assert_eq!(
            source_of("https://x/a.png"),
            Source::Remote("https://x/a.png")
        );
        assert_eq!(
            source_of("data:image/png;base64,AA"),
            Source::Remote("data:image/png;base64,AA")
        );
        // One letter is a drive, not a scheme; the path rules refuse nothing for it on Unix.
        assert_eq!(source_of("C:/a.png"), Source::Local("C:/a.png"));
        assert_eq!(source_of("ab:c.png"), Source::Remote("ab:c.png"));
    }

    #[test]
    fn content_must_match_the_extension() {
        assert!(sniffed(Kind::Png, b"\x89PNG\r\n\x1a\n...."));
        assert!(!sniffed(Kind::Png, b"<html><script>"));
        assert!(sniffed(Kind::Jpeg, &[0xff, 0xd8, 0xff, 0xe0]));
        assert!(sniffed(Kind::Text, "a cat, é".as_bytes()));
        assert!(!sniffed(Kind::Text, b"a\0b"));
        assert!(!sniffed(Kind::Text, &[0xff, 0xfe]));
    }

    #[test]
    fn urls_of_inputs() {
        assert_eq!(
            url_of(r#"{"id":"a","data":{"image":{"url":"images/a.png"}}}"#).as_deref(),
            Some("images/a.png")
        );
        assert_eq!(
            url_of(r#"{"id":"a","data":{"text":{"url":"t/a.txt"}}}"#).as_deref(),
            Some("t/a.txt")
        );
        assert_eq!(url_of(r#"{"id":"a","data":{"text":{"raw":"hi"}}}"#), None);
        assert_eq!(url_of(r#"{"id":"a"}"#), None);
    }
}
