//! docs/configuration.md names every flag the binary takes: every command's `--help` is read
//! and each `--flag` it lists must appear in backticks in the doc, so a new flag cannot land
//! undocumented. With features, their commands (`migrate`, `dynamodb`) are checked too.

use std::process::Command;

fn help(command: &[String]) -> String {
    let out =
        Command::new(env!("CARGO_BIN_EXE_stampede")).args(command).arg("--help").output().expect("run stampede --help");
    assert!(out.status.success(), "stampede {} --help failed", command.join(" "));
    String::from_utf8(out.stdout).unwrap()
}

/// The subcommands a help text lists under `Commands:`, without `help` itself.
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|line| !line.starts_with("Commands:"))
        .skip(1)
        .take_while(|line| !line.trim().is_empty())
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

/// The long flags an option list shows: lines such as `  -h, --help` or `      --addr <ADDR>`.
fn flags(help: &str) -> Vec<String> {
    help.lines()
        .filter(|line| line.trim_start().starts_with('-'))
        .filter_map(|line| line.split([' ', ',']).find(|word| word.starts_with("--")))
        .filter(|flag| !matches!(*flag, "--help" | "--version"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_flag_of_every_command_is_in_the_configuration_doc() {
    let doc_path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/configuration.md");
    let doc = std::fs::read_to_string(doc_path).unwrap();
    let mut missing = Vec::new();
    let mut commands = vec![Vec::<String>::new()];
    let mut checked = 0;
    while let Some(command) = commands.pop() {
        let text = help(&command);
        for flag in flags(&text) {
            checked += 1;
            if !doc.contains(&format!("`{flag}`")) && !doc.contains(&format!("`{flag} ")) {
                missing.push(format!("stampede {} {flag}", command.join(" ")));
            }
        }
        for sub in subcommands(&text) {
            let mut next = command.clone();
            next.push(sub);
            commands.push(next);
        }
    }
    assert!(checked > 50, "read only {checked} flags: has the help format changed?");
    missing.sort();
    missing.dedup();
    assert!(missing.is_empty(), "flags missing from docs/configuration.md:\n{}", missing.join("\n"));
}
