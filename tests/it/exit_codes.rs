//! The exit codes, one line a case, on the real binary: 0 ok, 1 a finding, 2 usage, 3 changes
//! to apply (`plan --detailed-exitcode`), 4 a file or the index, 5 the remote or the server
//! (docs/cli.md). And the CI recipe the docs give, which must pass on changes and fail on a
//! mistyped flag.

use std::fs;
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

use crate::common::{BIN, Project, Server};

const TASK: &str = "type: TYPE_NOT_SET\ninput_source: {type: ALL_INPUTS}\n";

/// `annotask --root ROOT ARGS` exits with `expected`.
#[track_caller]
fn check(root: &Path, args: &[&str], expected: i32) {
    let out = Command::new(BIN)
        .arg("--root")
        .arg(root)
        .args(args)
        .env_remove("ANNOTASK_API_KEY")
        .env_remove("CLARIFAI_PAT")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(expected),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Projects to run commands in: one valid task, one invalid file, nothing; a folder that is
/// no project (given with `--root`); and a second `annotask serve` to plan against.
struct Fixture {
    good: Project,
    bad: Project,
    empty: Project,
    no_tasks: tempfile::TempDir,
    remote: Server,
    _remote_root: Project,
}

impl Fixture {
    fn new() -> Fixture {
        let good = Project::new();
        good.write("tasks/good.yaml", TASK);
        let bad = Project::new();
        bad.write("tasks/bad.yaml", "type: NOT_A_TYPE\n");
        let remote_root = Project::new();
        let remote = Server::start(remote_root.root(), &[] as &[&str], &[]);
        Fixture {
            good,
            bad,
            empty: Project::new(),
            no_tasks: tempfile::tempdir().unwrap(),
            remote,
            _remote_root: remote_root,
        }
    }

    /// `plan ARGS` against the fixture's remote.
    fn plan<'a>(&'a self, args: &[&'a str]) -> Vec<&'a str> {
        let to = [
            "--remote",
            &self.remote.base,
            "--user-id",
            "u",
            "--app-id",
            "a",
        ];
        [&["plan"], args, &to].concat()
    }
}

#[test]
fn each_outcome_has_its_code() {
    let f = Fixture::new();
    let (good, bad, empty) = (f.good.root(), f.bad.root(), f.empty.root());
    let busy = TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = busy.local_addr().unwrap().to_string();
    let unreachable = [
        "plan",
        "--remote",
        "http://127.0.0.1:9",
        "--user-id",
        "u",
        "--app-id",
        "a",
    ];
    let cases: &[(&Path, &[&str], i32)] = &[
        (good, &["list"], 0),
        (good, &["--help"], 0),
        (good, &["--version"], 0),
        (good, &f.plan(&[]), 0),
        (empty, &f.plan(&["--detailed-exitcode"]), 0),
        // 1: a finding.
        (bad, &["validate"], 1),
        (bad, &["sync"], 1),
        (bad, &f.plan(&[]), 1),
        (good, &["get", "missing"], 1),
        (good, &["delete", "missing"], 1),
        // 2: usage.
        (good, &["frobnicate"], 2),
        (good, &["list", "--per-pgae", "2"], 2),
        (good, &["list", "--per-page", "1001"], 2),
        (good, &["get", "a/b"], 2),
        (good, &["plan", "--remote", "http://127.0.0.1:9"], 2),
        (good, &["serve", "--addr", "0.0.0.0:0"], 2),
        (empty, &f.plan(&["--prune"]), 2),
        // 3: changes to apply.
        (good, &f.plan(&["--detailed-exitcode"]), 3),
        // 4: a file, a folder or the index.
        (f.no_tasks.path(), &["list"], 4),
        (good, &["create", "-f", "/nonexistent/body.json"], 4),
        (good, &["validate", "/nonexistent/task.yaml"], 4),
        // 5: the remote or the server.
        (good, &unreachable, 5),
        (good, &["serve", "--addr", &busy], 5),
    ];
    for (root, args, expected) in cases {
        check(root, args, *expected);
    }
}

/// The shell that follows `plan ... --detailed-exitcode` in the docs' CI recipe:
/// `|| [ $? -eq N ]`.
fn ci_recipe() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let docs = fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path());
    [root.join("README.md")]
        .into_iter()
        .chain(docs)
        .filter_map(|path| fs::read_to_string(path).ok())
        .flat_map(|text| text.lines().map(str::to_owned).collect::<Vec<_>>())
        .find_map(|line| {
            let at = line.find("--detailed-exitcode ||")?;
            Some(line[at + "--detailed-exitcode ".len()..].to_owned())
        })
        .expect("the docs give a CI recipe for plan --detailed-exitcode")
}

#[test]
fn the_ci_recipe_passes_on_changes_and_fails_on_a_mistyped_flag() {
    let f = Fixture::new();
    let recipe = ci_recipe();
    let cases: &[(&Path, &[&str], bool)] = &[
        (f.good.root(), &f.plan(&["--detailed-exitcode"]), true),
        (f.empty.root(), &f.plan(&["--detailed-exitcode"]), true),
        (
            f.good.root(),
            &f.plan(&["--detailed-exitcode", "--prnue"]),
            false,
        ),
        (f.bad.root(), &f.plan(&["--detailed-exitcode"]), false),
    ];
    for (root, args, passes) in cases {
        let status = Command::new("sh")
            .arg("-c")
            .arg(format!("\"$@\" {recipe}"))
            .args(["sh", BIN, "--root"])
            .arg(root)
            .args(*args)
            .env_remove("CLARIFAI_PAT")
            .status()
            .unwrap();
        assert_eq!(status.success(), *passes, "{recipe} after {args:?}");
    }
}
