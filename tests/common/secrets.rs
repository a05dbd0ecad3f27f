//! The keys a test uses, and the check that no output contains one (issue 28: no message
//! ever contains a key). `common` registers every key a server is started with and every key
//! a CLI run is given, and checks every output it captures (a server's stdout and stderr, a
//! CLI run's, the official client's, every answer `Server::call` reads) against the keys the
//! test has used so far. Must not decide anything else a test checks.

use std::cell::RefCell;
use std::path::Path;

use saphyr::{LoadableYamlNode, Yaml};

thread_local! {
    /// The keys used by the test running on this thread: libtest runs each test on its own.
    static USED: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// Environment variables that carry a key to the binary.
pub fn is_key_variable(name: &str) -> bool {
    name == "CLARIFAI_PAT" || name.ends_with("_KEY")
}

/// Registers a key the test uses: every output checked from now on must not contain it.
pub fn used(key: &str) {
    USED.with(|used| {
        let mut used = used.borrow_mut();
        if !key.is_empty() && !used.iter().any(|k| k == key) {
            used.push(key.to_owned());
        }
    });
}

/// Registers every key of a keys file (JSON or YAML: the keys of its top-level map). A file
/// that is not a map registers nothing: the server refuses it without reading a key.
pub fn used_in_keys_file(path: &Path) {
    let Ok(text) = std::fs::read_to_string(path) else {
        return;
    };
    let Ok(docs) = Yaml::load_from_str(&text) else {
        return;
    };
    for doc in &docs {
        if let Yaml::Mapping(map) = doc {
            for key in map.keys() {
                if let Some(key) = key.as_str() {
                    used(key);
                }
            }
        }
    }
}

/// The first of `keys` that `text` contains.
pub fn leaked<'k>(text: &str, keys: &'k [String]) -> Option<&'k str> {
    keys.iter()
        .map(String::as_str)
        .find(|key| !key.is_empty() && text.contains(key))
}

/// Fails the test when `text`, which `what` printed or answered, contains a key the test used.
#[track_caller]
pub fn assert_kept(what: &str, text: &[u8]) {
    let text = String::from_utf8_lossy(text);
    USED.with(|used| {
        if let Some(key) = leaked(&text, &used.borrow()) {
            panic!("{what} contains the key {key:?}:\n{text}");
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, keys: &[&str], expected: Option<&str>) {
        let keys: Vec<String> = keys.iter().map(|k| (*k).to_owned()).collect();
        assert_eq!(leaked(text, &keys), expected, "{text:?} with {keys:?}");
    }

    #[test]
    fn the_check_finds_a_key_anywhere_in_an_output() {
        check("listening on http://127.0.0.1:80\n", &["k3y-1"], None);
        check("403: key k3y-1 may not", &["k3y-1"], Some("k3y-1"));
        check(
            "{\"details\":\"k3y-1\"}",
            &["other", "k3y-1"],
            Some("k3y-1"),
        );
        check("line 2: the key is empty", &[""], None);
        check("the key k3y", &["k3y-1"], None);
        check("", &["k3y-1"], None);
    }

    #[test]
    fn a_keys_file_registers_its_keys_and_an_output_with_one_fails() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("keys.yaml");
        std::fs::write(
            &file,
            "yaml-k3y-9: ann\nlong-k3y-9: {user: lead, scopes: []}\n",
        )
        .unwrap();
        let checked = std::thread::spawn(move || {
            used_in_keys_file(&file);
            assert_kept("a quiet run", b"ann may label");
            let said = std::panic::catch_unwind(|| assert_kept("a leaky run", b"long-k3y-9"));
            said.is_err()
        });
        assert!(
            checked.join().unwrap(),
            "an output with a key passed the check"
        );
    }
}
