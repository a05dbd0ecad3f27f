//! `annotask completions SHELL`: clap's script, plus what clap cannot know: the shells
//! `completions` takes, and the task ids of `get` and `delete`. Must not read the index: the
//! scripts ask `annotask list` when tab is pressed, so they never go stale.

use std::io::{self, Write};

use clap::CommandFactory;
use clap_complete::Shell;

/// The shell command that prints the ids of the project's tasks (the first column of the
/// table, after its header), one a line; every shell's script runs it. A table in a pipe fits
/// 80 columns and may cut a long id, so it asks for a width no table reaches.
const TASK_IDS: &str =
    "env COLUMNS=100000 annotask -q list --per-page 1000 2>/dev/null | tail -n +2 | cut -d' ' -f1";

pub fn print(shell: Shell) {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut super::Cli::command(), "annotask", &mut script);
    let script = String::from_utf8(script).expect("clap writes UTF-8 scripts");
    let script = match shell {
        Shell::Bash => script + &BASH_EXTRAS.replace("TASK_IDS", TASK_IDS),
        Shell::Zsh => zsh(&script),
        Shell::Fish => script + &FISH_EXTRAS.replace("TASK_IDS", TASK_IDS),
        _ => script,
    };
    // A closed pipe (`annotask completions bash | head`) is not an error.
    let _ = io::stdout().write_all(script.as_bytes());
}

/// Takes over from clap's `_annotask` where an argument of `get` or `delete` is a task id:
/// after the subcommand, not an option and not an option's value.
const BASH_EXTRAS: &str = r#"
_annotask_with_task_ids() {
    local i cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "${COMP_WORDS[i]}" in
            get|delete)
                if [[ $cur != -* && $prev != -* ]]; then
                    COMPREPLY=( $(compgen -W "$(TASK_IDS)" -- "$cur") )
                    return 0
                fi
                break
                ;;
        esac
    done
    _annotask "$@"
}
complete -F _annotask_with_task_ids -o bashdefault -o default annotask
"#;

const FISH_EXTRAS: &str = r#"complete -c annotask -n "__fish_annotask_using_subcommand completions" -f -a "bash zsh fish elvish powershell"
complete -c annotask -n "__fish_annotask_using_subcommand get; or __fish_annotask_using_subcommand delete" -f -a "(TASK_IDS)"
"#;

/// clap gives the positional ids of `get` and `delete` zsh's `_default` (files); they get
/// the task ids instead, from a function defined before the script's last lines call
/// `_annotask`.
fn zsh(script: &str) -> String {
    let ids = script
        .lines()
        .map(|line| {
            let positional_id = line.starts_with("':id -- ") || line.starts_with("'*::ids -- ");
            match line.strip_suffix(":_default' \\") {
                Some(head) if positional_id => format!("{head}:_annotask_task_ids' \\\n"),
                _ => format!("{line}\n"),
            }
        })
        .collect::<String>();
    let function = format!(
        "(( $+functions[_annotask_task_ids] )) ||\n_annotask_task_ids() {{\n    local -a ids\n    ids=(${{(f)\"$({TASK_IDS})\"}})\n    compadd -a ids\n}}\n\n"
    );
    let last = ids
        .rfind("if [ \"$funcstack[1]\" = \"_annotask\" ]")
        .unwrap_or(ids.len());
    format!("{}{function}{}", &ids[..last], &ids[last..])
}
