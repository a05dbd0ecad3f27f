//! The Python environment the official-client tests run in: the hosted API's client at the
//! versions `.ci/run` pins, in a virtual environment under `target/`, made once (the first
//! test to need it makes it while the others wait on a lock file, across test processes too)
//! and reused until the pins change. `ANNOTASK_TEST_PYTHON` names another Python to use.
//! Where `python3` cannot make the environment, the test fails saying what to install: it
//! never passes without running.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The same pins as `.ci/run`. The JSON channel imports `requests` without depending on it, and
/// fails on protobuf 7 (which dropped `FieldDescriptor.label`) for any message with a field it
/// shows when empty, such as an annotation's concepts. `pycocotools` reads the COCO export back.
const PINS: [&str; 4] = [
    "clarifai-grpc==12.6.0",
    "requests==2.34.2",
    "protobuf==6.33.6",
    "pycocotools==2.0.11",
];

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
    let pins = PINS.join("\n");
    fs::create_dir_all(&target).unwrap();
    let lock = File::create(target.join("python-venv.lock")).unwrap();
    lock.lock().expect("lock the Python environment");
    if fs::read_to_string(&marker).is_ok_and(|m| m == pins) {
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
            PINS.join(" ")
        ),
        Ok(out) if !out.status.success() => panic!(
            "`python3 -m venv {}` failed: install Python's venv module (Debian/Ubuntu: `apt-get install python3-venv`), \
             or set ANNOTASK_TEST_PYTHON to a Python that has {}\n{}",
            dir.display(),
            PINS.join(" "),
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
        ])
        .args(PINS)
        .output()
        .expect("run the environment's pip");
    assert!(
        installed.status.success(),
        "cannot install {} from PyPI into {}:\n{}",
        PINS.join(" "),
        dir.display(),
        String::from_utf8_lossy(&installed.stderr)
    );
    fs::write(&marker, pins).unwrap();
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
}
