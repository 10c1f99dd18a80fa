//! docs/man holds the pages clap_mangen makes from the `seal` and `unseal` command
//! lines, page for page. `UPDATE_MAN_PAGES=1 cargo test -p seal-e2e --test e2e man_pages`
//! rewrites them.

use std::collections::BTreeMap;
use std::path::Path;

use clap::CommandFactory;

/// The pages of `program` in `dir`, name → bytes.
fn pages(dir: &Path, program: &str) -> BTreeMap<String, Vec<u8>> {
    let ours = |name: &str| {
        name.starts_with(&format!("{program}.")) || name.starts_with(&format!("{program}-"))
    };
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    ours(&name).then(|| (name, std::fs::read(e.path()).unwrap_or_default()))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Compares (or, with `UPDATE_MAN_PAGES`, rewrites) the committed pages of `program`
/// with what its command line makes.
fn check(program: &str, command: clap::Command) {
    let made = tempfile::tempdir().expect("tempdir");
    clap_mangen::generate_to(command, made.path()).expect("pages made");
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/man");
    let (want, have) = (pages(made.path(), program), pages(&committed, program));
    if std::env::var_os("UPDATE_MAN_PAGES").is_some() {
        std::fs::create_dir_all(&committed).expect("docs/man");
        for name in have.keys() {
            std::fs::remove_file(committed.join(name)).expect("stale page removed");
        }
        for (name, bytes) in &want {
            std::fs::write(committed.join(name), bytes).expect("page written");
        }
        return;
    }
    let update = "run UPDATE_MAN_PAGES=1 cargo test -p seal-e2e --test e2e man_pages";
    assert!(want.len() > 1, "pages for the subcommands too");
    assert_eq!(
        want.keys().collect::<Vec<_>>(),
        have.keys().collect::<Vec<_>>(),
        "docs/man is out of date: {update}"
    );
    for (name, bytes) in &want {
        assert!(
            have.get(name) == Some(bytes),
            "docs/man/{name} is out of date: {update}"
        );
    }
}

#[test]
fn the_committed_man_pages_of_seal_are_current() {
    check("seal", seal::cli::Cli::command());
}

#[test]
fn the_committed_man_pages_of_unseal_are_current() {
    check("unseal", unseal::cli::Cli::command());
}
