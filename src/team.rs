//! The project's team file, `team.yaml` beside `tasks/`: for each user id, the git identities
//! that may write that person's work files (`ann: {emails: [ann@example.org]}`, optionally
//! `signing_keys`), read into a checked [`Team`], and its JSON Schema. Must not do I/O or run
//! git: `annotask validate --commits` does, with what this says.

use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::validate::{Diagnostic, check_id};

/// The team file's name, beside `tasks/`.
pub const TEAM_FILE: &str = "team.yaml";

/// The file name of the team file's schema, in this repository.
pub const SCHEMA_FILE: &str = "team.schema.json";

/// One person: the git identities that may write their work files.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Member {
    /// The commit author emails that are this person (compared without regard to case).
    #[schemars(length(min = 1))]
    pub emails: Vec<String>,
    /// Fingerprints or key ids of the keys this person signs commits with; when given, a signed
    /// commit touching their work files must be signed with one of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signing_keys: Vec<String>,
}

/// `team.yaml`: user ids to the people they are.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct Team {
    pub members: BTreeMap<String, Member>,
}

impl Team {
    /// Reads and checks a team file: every user id valid, every person with at least one
    /// email, no email claimed by two people. All problems, located when the text says where.
    pub fn parse(bytes: &[u8]) -> Result<Team, Vec<Diagnostic>> {
        let team: Team = crate::yaml::parse_body(bytes).map_err(|d| vec![d])?;
        let mut found = Vec::new();
        let mut owners: BTreeMap<String, &str> = BTreeMap::new();
        for (user, member) in &team.members {
            if let Err(e) = check_id(user) {
                found.push(Diagnostic::error(user.as_str(), e));
            }
            if member.emails.is_empty() {
                found.push(
                    Diagnostic::error(format!("{user}.emails"), "a person needs at least one email")
                        .hint("the email git records as the author of their commits: `git config user.email`"),
                );
            }
            for (i, email) in member.emails.iter().enumerate() {
                let field = format!("{user}.emails[{i}]");
                if !email.contains('@') || email.trim() != email {
                    found.push(Diagnostic::error(
                        field,
                        format!("`{email}` is not an email address"),
                    ));
                } else if let Some(other) = owners.insert(email.to_lowercase(), user) {
                    found.push(Diagnostic::error(
                        field,
                        format!("`{email}` is also `{other}`'s: an email is one person's"),
                    ));
                }
            }
        }
        if found.is_empty() {
            return Ok(team);
        }
        crate::yaml::locate(bytes, &mut found);
        Err(found)
    }

    /// The user ids whose files `email` may write.
    pub fn users_of(&self, email: &str) -> BTreeSet<&str> {
        self.members
            .iter()
            .filter(|(_, m)| m.emails.iter().any(|e| e.eq_ignore_ascii_case(email)))
            .map(|(user, _)| user.as_str())
            .collect()
    }
}

/// The team file's JSON Schema (draft-07, as the task file's), pretty, ending in a newline.
pub fn schema() -> String {
    let schema = schemars::generate::SchemaSettings::draft07()
        .into_generator()
        .into_root_schema_for::<Team>();
    let mut text = serde_json::to_string_pretty(&schema).expect("schemas always serialise");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn check(yaml: &str, expected: &[&str]) {
        let got: Vec<String> = match Team::parse(yaml.as_bytes()) {
            Ok(_) => Vec::new(),
            Err(found) => found
                .iter()
                .map(|d| format!("{} {}", d.field, d.message))
                .collect(),
        };
        assert_eq!(got, expected, "{yaml}");
    }

    #[test]
    fn team_files() {
        check("ann: {emails: [ann@example.org]}\n", &[]);
        check(
            "ann: {emails: [ann@example.org], signing_keys: [ABCD1234]}\nrita: {emails: [r@x.org, rita@y.org]}\n",
            &[],
        );
        check(
            "ann: {emails: []}\n",
            &["ann.emails a person needs at least one email"],
        );
        check(
            "ann: {emails: [nobody]}\n",
            &["ann.emails[0] `nobody` is not an email address"],
        );
        check(
            "ann: {emails: [a@x.org]}\nbob: {emails: [A@x.org]}\n",
            &["bob.emails[0] `A@x.org` is also `ann`'s: an email is one person's"],
        );
        check(
            "a b: {emails: [a@x.org]}\n",
            &["a b id `a b` contains ' '; ids use only letters, digits, `-` and `_`"],
        );
        let unknown = Team::parse(b"ann: {emails: [a@x.org], email: x}\n").unwrap_err();
        assert_eq!(unknown[0].message, "unknown key `email`");
    }

    #[test]
    fn users_of_an_email() {
        let team =
            Team::parse(b"ann: {emails: [Ann@Example.org]}\nbob: {emails: [b@x.org]}\n").unwrap();
        assert_eq!(team.users_of("ann@example.org"), BTreeSet::from(["ann"]));
        assert!(team.users_of("carl@x.org").is_empty());
    }

    /// The repository's team.schema.json is the generated one.
    #[test]
    fn the_schema_file_is_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(SCHEMA_FILE);
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            on_disk == schema(),
            "{SCHEMA_FILE} is stale: `annotask schema --team > {SCHEMA_FILE}`"
        );
    }
}
