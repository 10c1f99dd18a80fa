//! The README's quickstart works as written: its first command is `cargo run -p seal --
//! ARGS`, cargo can tell which binary that runs (the package has `default-run`), and the
//! built `seal` with those ARGS seals the examples. (Running cargo itself from inside
//! `cargo test` would contend for the build lock, so the binary is run directly.)

use seal_e2e::*;

#[test]
fn the_quickstart_main_command_works() {
    let readme = std::fs::read_to_string(repo_file("README.md")).expect("README");
    let quickstart = readme
        .split("## Quickstart")
        .nth(1)
        .expect("a Quickstart section");
    let block = quickstart
        .split("```sh")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("a sh block");
    let commands: Vec<&str> = block
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(commands.len(), 2, "exactly two commands: {commands:?}");
    assert!(commands[1].starts_with("cargo test"), "{}", commands[1]);
    let args = commands[0]
        .strip_prefix("cargo run -q -p seal -- ")
        .expect("the main job runs the seal package");
    let manifest = std::fs::read_to_string(repo_file("crates/seal/Cargo.toml")).expect("manifest");
    assert!(
        manifest.contains("default-run = \"seal\""),
        "`cargo run -p seal` needs default-run: the package has two binaries"
    );
    let args: Vec<&str> = args.split_whitespace().collect();
    let out = run("seal", &args, None).ok();
    let docs = documents(&out);
    assert_eq!(docs.len(), 2);
    assert!(docs.iter().all(|d| d["kind"] == "SealedSecret"));
    let ci = std::fs::read_to_string(repo_file(".ci/run")).expect(".ci/run");
    assert!(
        ci.contains(commands[1]),
        ".ci/run must run the README's test command ({})",
        commands[1]
    );
}
