//! The Python environment the official-client tests run in: the packages
//! `tests/python/requirements.txt` pins (as `.ci/run` installs them), in a virtual environment
//! under `target/`, made once (the first test to need it makes it while the others wait on a
//! lock file, across test processes too) and reused until the pins change.
//! `ANNOTASK_TEST_PYTHON` names another Python to use.
//! Where `python3` cannot make the environment, the test fails saying what to install: it
//! never passes without running.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The pins, one list with `.ci/run` (the file says why each is pinned).
const REQUIREMENTS: &str = include_str!("../python/requirements.txt");

/// The pinned packages, for messages.
fn pins() -> String {
    REQUIREMENTS
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The Python to run the official client's scripts with.
pub fn python() -> PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON
        .get_or_init(|| match std::env::var_os("ANNOTASK_TEST_PYTHON") {
            Some(python) => PathBuf::from(python),
            None => venv(),
        })
        .clone()
}

fn venv() -> PathBuf {
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let dir = target.join("python-venv");
    let python = dir.join("bin").join("python");
    let marker = dir.join("annotask-pins.txt");
    fs::create_dir_all(&target).unwrap();
    let lock = File::create(target.join("python-venv.lock")).unwrap();
    lock.lock().expect("lock the Python environment");
    if fs::read_to_string(&marker).is_ok_and(|m| m == REQUIREMENTS) {
        return python;
    }
    // A half-made environment (an interrupted earlier run) or one with other pins.
    let _ = fs::remove_dir_all(&dir);
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&dir)
        .output();
    match made {
        Err(e) => panic!(
            "the official-client tests need Python 3 to run clarifai-grpc, and `python3` cannot be run ({e}): \
             install Python 3 with its venv module (Debian/Ubuntu: `apt-get install python3 python3-venv`), \
             or set ANNOTASK_TEST_PYTHON to a Python that has {}",
            pins()
        ),
        Ok(out) if !out.status.success() => panic!(
            "`python3 -m venv {}` failed: install Python's venv module (Debian/Ubuntu: `apt-get install python3-venv`), \
             or set ANNOTASK_TEST_PYTHON to a Python that has {}\n{}",
            dir.display(),
            pins(),
            String::from_utf8_lossy(&out.stderr)
        ),
        Ok(_) => {}
    }
    let installed = Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "-r",
        ])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/requirements.txt"))
        .output()
        .expect("run the environment's pip");
    assert!(
        installed.status.success(),
        "cannot install {} from PyPI into {}:\n{}",
        pins(),
        dir.display(),
        String::from_utf8_lossy(&installed.stderr)
    );
    fs::write(&marker, REQUIREMENTS).unwrap();
    python
}

/// Runs the official client's script (`tests/python/client_test.py`) with these arguments,
/// printing its checks; fails with its output when any check fails.
#[track_caller]
pub fn client(args: &[&str], env: &[(&str, &Path)]) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/client_test.py");
    let output = Command::new(python())
        .arg(script)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "{args:?}: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    super::secrets::assert_kept("the official client's stdout", &output.stdout);
    super::secrets::assert_kept("the official client's stderr", &output.stderr);
}
