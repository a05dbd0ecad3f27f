//! `annotask validate --commits RANGE [--require-signed]`: who wrote the work files, checked
//! where teams already check code. For every commit in the range (e.g. `origin/main..HEAD` on a
//! pull request), with `team.yaml` as the commit's parent had it: each work file it changes
//! must be its author's (`team.yaml` maps user ids to emails), only appended to (earlier lines
//! are never rewritten, nor the file removed), and, with `--require-signed`, the commit must
//! carry a signature git verifies (from one of the person's `signing_keys` when team.yaml lists
//! any). Runs `git`; one located line per finding.

use std::path::Path;
use std::process::Command;

use anyhow::Context;

use annotask::layout;
use annotask::team::{TEAM_FILE, Team};

use super::Outcome;

/// What is wrong with one commit's change of one file.
struct Finding {
    commit: String,
    /// `path:line`, or the path alone.
    at: String,
    message: String,
}

/// Checks every commit of `range` in `root`'s repository; prints one line per finding and
/// answers Invalid when there is any.
pub fn run(root: &Path, range: &str, require_signed: bool) -> anyhow::Result<Outcome> {
    let git = Git { root };
    let listed = git.text(&["rev-list", "--reverse", "--topo-order", range, "--"])?;
    let mut findings = Vec::new();
    let mut checked = 0;
    for commit in listed.lines().filter(|l| !l.is_empty()) {
        checked += 1;
        check_commit(&git, commit, require_signed, &mut findings)?;
    }
    for f in &findings {
        println!(
            "{}: commit {}: {}",
            f.at,
            &f.commit[..f.commit.len().min(12)],
            f.message
        );
    }
    if !super::output::quiet() {
        println!(
            "{checked} commit{} checked, {} finding{}",
            if checked == 1 { "" } else { "s" },
            findings.len(),
            if findings.len() == 1 { "" } else { "s" }
        );
    }
    Ok(if findings.is_empty() {
        Outcome::Success
    } else {
        Outcome::Invalid
    })
}

fn check_commit(
    git: &Git,
    commit: &str,
    require_signed: bool,
    findings: &mut Vec<Finding>,
) -> anyhow::Result<()> {
    // Author email, signature status, signing key, fingerprint, parents.
    let head = git.text(&[
        "show",
        "-s",
        "--format=%ae%x00%G?%x00%GK%x00%GF%x00%P",
        commit,
    ])?;
    let fields: Vec<&str> = head.trim_end_matches('\n').split('\0').collect();
    let [email, signature, key, fingerprint, parents] = fields[..] else {
        anyhow::bail!("git show {commit}: unexpected output {head:?}");
    };
    let parent = parents.split_whitespace().next();
    let finding = |at: String, message: String| Finding {
        commit: commit.to_owned(),
        at,
        message,
    };
    // The team as it stood before the commit, so a commit cannot make its own author the
    // owner of the files it writes; a project's first team file is read from the commit.
    let team_text = parent
        .and_then(|p| git.bytes(&["show", &format!("{p}:{TEAM_FILE}")]).ok())
        .or_else(|| git.bytes(&["show", &format!("{commit}:{TEAM_FILE}")]).ok());
    let team = match team_text.as_deref().map(Team::parse) {
        Some(Ok(team)) => Some(team),
        Some(Err(_)) => {
            findings.push(finding(
                TEAM_FILE.into(),
                "team.yaml does not read; `annotask validate` says why".into(),
            ));
            None
        }
        None => None,
    };
    let changed = match parent {
        Some(p) => git.bytes(&[
            "diff-tree",
            "-r",
            "-z",
            "--no-renames",
            "--name-status",
            p,
            commit,
        ])?,
        None => git.bytes(&[
            "diff-tree",
            "-r",
            "-z",
            "--no-renames",
            "--name-status",
            "--root",
            commit,
        ])?,
    };
    let changed = String::from_utf8(changed).context("git listed a path that is not UTF-8")?;
    let mut parts = changed.split('\0').filter(|p| !p.is_empty());
    let mut touches_work = false;
    while let (Some(status), Some(path)) = (parts.next(), parts.next()) {
        let Some((_, user)) = layout::work_owner(path) else {
            continue;
        };
        touches_work = true;
        match &team {
            Some(team) if !team.users_of(email).contains(user) => {
                let owner = team.members.get(user).map_or_else(
                    || format!("team.yaml names no `{user}`"),
                    |m| format!("team.yaml gives `{user}` {}", m.emails.join(", ")),
                );
                findings.push(finding(
                    path.to_owned(),
                    format!("written by {email}, who is not `{user}` ({owner})"),
                ));
            }
            Some(_) => {}
            None => findings.push(finding(
                path.to_owned(),
                format!(
                    "no {TEAM_FILE} says who `{user}` is, so who wrote the file cannot be checked"
                ),
            )),
        }
        match (status, parent) {
            ("A", _) | (_, None) => {}
            ("M", Some(p)) => {
                let before = git.bytes(&["show", &format!("{p}:{path}")])?;
                let after = git.bytes(&["show", &format!("{commit}:{path}")])?;
                if !after.starts_with(&before) {
                    let line = first_difference(&before, &after);
                    findings.push(finding(
                        format!("{path}:{line}"),
                        "rewrites an earlier line: work files are only appended to".into(),
                    ));
                }
            }
            _ => findings.push(finding(
                path.to_owned(),
                "removes the work file: work files are only appended to".into(),
            )),
        }
    }
    if require_signed {
        // G: good; U: good, of unknown validity (the key is not certified in the local trust
        // database). Anything else git could not verify.
        if !matches!(signature, "G" | "U") {
            findings.push(finding(
                "-".into(),
                format!("not signed with a signature git can verify (`git log --show-signature` says {signature})"),
            ));
        } else if touches_work && let Some(team) = &team {
            let allowed: Vec<&String> = team
                .users_of(email)
                .into_iter()
                .filter_map(|u| team.members.get(u))
                .flat_map(|m| &m.signing_keys)
                .collect();
            let listed = |k: &str| {
                !k.is_empty()
                    && allowed
                        .iter()
                        .any(|a| a.eq_ignore_ascii_case(k) || fingerprint.ends_with(a.as_str()))
            };
            if !allowed.is_empty() && !listed(key) && !listed(fingerprint) {
                findings.push(finding(
                    "-".into(),
                    format!("signed with key {key}, which team.yaml does not list for {email}"),
                ));
            }
        }
    }
    Ok(())
}

/// The line (from 1) where `after` first differs from `before`.
fn first_difference(before: &[u8], after: &[u8]) -> usize {
    let same = before.iter().zip(after).take_while(|(a, b)| a == b).count();
    before[..same].iter().filter(|&&b| b == b'\n').count() + 1
}

/// `git` run in the project.
struct Git<'a> {
    root: &'a Path,
}

impl Git<'_> {
    fn bytes(&self, args: &[&str]) -> anyhow::Result<Vec<u8>> {
        let out = Command::new("git")
            .current_dir(self.root)
            .args(args)
            .output()
            .context("cannot run git")?;
        anyhow::ensure!(
            out.status.success(),
            "git {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Ok(out.stdout)
    }

    fn text(&self, args: &[&str]) -> anyhow::Result<String> {
        String::from_utf8(self.bytes(args)?).context("git answered text that is not UTF-8")
    }
}
