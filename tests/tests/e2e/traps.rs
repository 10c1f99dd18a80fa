//! The small things people trip on: an empty Secret sealed by mistake, and recipients
//! from the environment for CI runners with no kubeconfig and no recipients file.

use seal_e2e::*;

const EMPTY: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: empty\n  namespace: apps\n";
const DB: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: apps\nstringData:\n  password: env-value\n";

fn example_recipient() -> String {
    std::fs::read_to_string(example_recipients())
        .expect("recipients")
        .lines()
        .find(|l| l.starts_with("age1"))
        .expect("a recipient")
        .to_owned()
}

/// A Secret with its values under a misspelt field (`stringdata`) is empty to
/// Kubernetes: refused, naming the document; `--allow-empty` seals it on purpose.
#[test]
fn an_empty_secret_is_refused_unless_allowed() {
    let dir = scratch();
    let d = dir.path();
    let recipients = example_recipients();
    for (name, text) in [
        ("empty.yaml", EMPTY.to_owned()),
        (
            "misspelt.yaml",
            format!("{EMPTY}stringdata:\n  password: x\n"),
        ),
    ] {
        let file = write(d, name, &text);
        let run = run_in(d, "seal", &["-R", &recipients, &file], None);
        if name == "misspelt.yaml" {
            // Unknown fields are an error of their own already; either way nothing sealed.
            assert_ne!(run.code, Some(0), "{}", run.stderr);
            continue;
        }
        let line = run.fails_with(1);
        assert!(
            line.contains("empty.yaml: document 1: data: no values")
                && line.contains("--allow-empty"),
            "{line}"
        );
    }
    let file = write(d, "both.yaml", &format!("{DB}---\n{EMPTY}"));
    let line = run_in(
        d,
        "seal",
        &["-R", &recipients, &file, "-w", "out.yaml"],
        None,
    )
    .fails_with(1);
    assert!(
        line.contains("both.yaml: document 2: data: no values"),
        "{line}"
    );
    assert!(!d.join("out.yaml").exists(), "nothing written");
    let out = run_in(
        d,
        "seal",
        &["-R", &recipients, "--allow-empty", "empty.yaml"],
        None,
    )
    .ok();
    let doc = &documents(&out)[0];
    assert_eq!(doc["kind"], "SealedSecret");
    assert!(
        doc["spec"]["encryptedData"]
            .as_object()
            .is_none_or(|m| m.is_empty())
    );
}

fn env_run(d: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut all = vec![("KUBECONFIG", "/nonexistent/seal-e2e-kubeconfig")];
    all.extend_from_slice(env);
    run_with_env(d, "seal", args, None, &all)
}

fn keygen(d: &std::path::Path, name: &str) -> String {
    run_in(d, "seal", &["keygen", "-o", name], None).ok();
    std::fs::read_to_string(d.join(name))
        .expect("identity")
        .lines()
        .find_map(|l| l.strip_prefix("# public key: ").map(str::to_owned))
        .expect("recipient")
}

/// No kubeconfig, no file, no flag: SEAL_RECIPIENTS (or SEAL_RECIPIENTS_FILE) is where
/// the recipients come from. Flags win over them, and they win over the rules.
#[test]
fn recipients_from_the_environment_stand_where_the_flags_stand() {
    let dir = scratch();
    let d = dir.path();
    let file = write(d, "db.yaml", DB);
    let example = example_recipient();
    let other = keygen(d, "other.key");
    let recipients_of = |out: &str| -> Vec<String> {
        documents(out)[0]["spec"]["recipients"]
            .as_array()
            .expect("list")
            .iter()
            .map(|r| r.as_str().expect("string").to_owned())
            .collect()
    };
    let both = format!("{example}, {other}\n");
    let out = env_run(d, &[&file], &[("SEAL_RECIPIENTS", &both)]).ok();
    let mut want = vec![example.clone(), other.clone()];
    want.sort();
    let mut got = recipients_of(&out);
    got.sort();
    assert_eq!(got, want);

    let out = env_run(
        d,
        &[&file],
        &[("SEAL_RECIPIENTS_FILE", &example_recipients())],
    )
    .ok();
    assert_eq!(recipients_of(&out), [example.as_str()]);

    // A flag wins over the environment.
    let out = env_run(d, &["-r", &other, &file], &[("SEAL_RECIPIENTS", &example)]).ok();
    assert_eq!(recipients_of(&out), [other.as_str()]);

    // The environment wins over a .seal.yaml rule, as a flag does.
    std::fs::write(
        d.join(".seal.yaml"),
        format!("rules:\n  - path: '**'\n    recipients: [{other}]\n"),
    )
    .expect("rules");
    let out = env_run(d, &["db.yaml"], &[("SEAL_RECIPIENTS", &example)]).ok();
    assert_eq!(recipients_of(&out), [example.as_str()]);
    std::fs::remove_file(d.join(".seal.yaml")).expect("removed");

    // A bad value is one line naming the variable, and never the cluster's fallback.
    let line = env_run(d, &[&file], &[("SEAL_RECIPIENTS", "age1notarecipient")]).fails_with(1);
    assert!(line.contains("SEAL_RECIPIENTS"), "{line}");
    let line = env_run(
        d,
        &[&file],
        &[("SEAL_RECIPIENTS_FILE", "/nonexistent/r.txt")],
    )
    .fails_with(1);
    assert!(line.contains("SEAL_RECIPIENTS_FILE"), "{line}");
}
