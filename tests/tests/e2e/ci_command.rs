//! The project's own CI entry point.

/// `.ci/run` must run exactly the README's test command.
#[test]
fn ci_runs_the_readme_test_command() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).expect("README.md");
    let ci = std::fs::read_to_string(format!("{root}/.ci/run")).expect(".ci/run");
    let commands: Vec<&str> = readme
        .split("```sh\n")
        .skip(1)
        .take(2)
        .filter_map(|block| block.split("\n```").next())
        .collect();
    assert_eq!(commands.len(), 2, "README.md must open with two commands");
    assert_eq!(commands[0], "cargo run --release");
    let test_command = commands[1];
    let ci_lines: Vec<&str> = ci
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter(|l| !l.starts_with("set ") && !l.starts_with("cd ") && !l.starts_with("export "))
        .collect();
    assert_eq!(
        ci_lines,
        [test_command],
        ".ci/run must run the README's test command and nothing else"
    );
}
