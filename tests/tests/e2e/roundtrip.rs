//! seal → unseal recover gives back the same Secret, byte for byte in `data`, for the
//! shipped examples, for several recipients and through every output format.

use seal_e2e::*;

/// The plaintext `data` of an example file, with `stringData` merged in (as Kubernetes does).
fn expected_data(example: &str) -> std::collections::BTreeMap<String, Vec<u8>> {
    let text = std::fs::read_to_string(repo_file(example)).expect("example");
    let doc = &documents(&text)[0];
    let mut data = secret_data(doc);
    if let Some(string_data) = doc["stringData"].as_object() {
        for (k, v) in string_data {
            data.insert(k.clone(), v.as_str().expect("string").as_bytes().to_vec());
        }
    }
    data
}

#[test]
fn examples_round_trip_byte_for_byte() {
    let recipients = example_recipients();
    let examples = [
        "examples/db-credentials.yaml",
        "examples/harbor-regcred.yaml",
    ];
    let mut args = vec!["-R", &recipients];
    args.extend(examples);
    let sealed = run("seal", &args, None).ok();
    assert!(
        !sealed.contains("example-only-0f3b9c"),
        "plaintext leaked into the output"
    );
    assert!(!sealed.contains("last-applied-configuration"));
    let identity = example_identity();
    let recovered = run(
        "unseal",
        &["recover", "-i", &identity],
        Some(sealed.as_bytes()),
    )
    .ok();
    let docs = documents(&recovered);
    assert_eq!(docs.len(), 2);
    for (doc, example) in docs.iter().zip(examples) {
        assert_eq!(secret_data(doc), expected_data(example), "{example}");
    }
    assert_eq!(
        docs[0]["metadata"]["labels"]["app.kubernetes.io/name"],
        "orders-db"
    );
    assert_eq!(docs[0]["type"], "Opaque");
    assert_eq!(docs[1]["type"], "kubernetes.io/dockerconfigjson");
    assert!(docs[0]["metadata"]["annotations"].is_null());
}

#[test]
fn either_of_two_recipients_opens_and_a_third_does_not() {
    let dir = scratch();
    let d = dir.path();
    for name in ["a.key", "b.key", "c.key"] {
        run_in(d, "seal", &["keygen", "-o", name], None).ok();
    }
    let recipient = |name: &str| {
        let text = std::fs::read_to_string(d.join(name)).expect("key file");
        text.lines()
            .find_map(|l| l.strip_prefix("# public key: "))
            .expect("public key comment")
            .to_owned()
    };
    let (a, b) = (recipient("a.key"), recipient("b.key"));
    let example = repo_file("examples/db-credentials.yaml");
    run_in(
        d,
        "seal",
        &["-r", &a, "-r", &b, &example, "-w", "sealed.yaml"],
        None,
    )
    .ok();
    let sealed = std::fs::read_to_string(d.join("sealed.yaml")).expect("written");
    let doc = &documents(&sealed)[0];
    assert_eq!(doc["spec"]["recipients"].as_array().map(Vec::len), Some(2));
    let want = expected_data("examples/db-credentials.yaml");
    for key in ["a.key", "b.key"] {
        let out = run_in(d, "unseal", &["recover", "-i", key, "sealed.yaml"], None).ok();
        assert_eq!(secret_data(&documents(&out)[0]), want, "{key}");
    }
    let line = run_in(
        d,
        "unseal",
        &["recover", "-i", "c.key", "sealed.yaml"],
        None,
    )
    .fails_with(3);
    assert!(
        line.contains("sealed.yaml: document 1: spec.encryptedData."),
        "{line}"
    );
    assert!(
        line.contains("no identity held here can open this value"),
        "{line}"
    );
}

#[test]
fn json_in_and_out_and_lists() {
    let recipients = example_recipients();
    let list = r#"{"apiVersion":"v1","kind":"List","items":[
        {"apiVersion":"v1","kind":"Secret","metadata":{"name":"one","namespace":"a"},"stringData":{"k":"1"}},
        {"apiVersion":"v1","kind":"Secret","metadata":{"name":"two","namespace":"a"},"data":{"k":"Mg=="}}]}"#;
    let sealed = run(
        "seal",
        &["-R", &recipients, "-o", "json"],
        Some(list.as_bytes()),
    )
    .ok();
    let parsed: serde_json::Value = serde_json::from_str(&sealed).expect("json output");
    assert_eq!(parsed["kind"], "List");
    assert_eq!(parsed["items"][1]["kind"], "SealedSecret");
    let identity = example_identity();
    let out = run(
        "unseal",
        &["recover", "-i", &identity, "-o", "json"],
        Some(sealed.as_bytes()),
    )
    .ok();
    let docs = documents(&out);
    assert_eq!(docs.len(), 2);
    assert_eq!(secret_data(&docs[0])["k"], b"1");
    assert_eq!(secret_data(&docs[1])["k"], b"2");
}

#[test]
fn kubectl_plugin_name_is_the_same_program() {
    let recipients = example_recipients();
    let example = repo_file("examples/db-credentials.yaml");
    let out = run("kubectl-seal", &["-R", &recipients, &example], None).ok();
    assert_eq!(documents(&out)[0]["kind"], "SealedSecret");
}

#[test]
fn recovered_secrets_written_to_a_file_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch();
    let identity = example_identity();
    let sealed = repo_file("examples/sealed/db-credentials.yaml");
    run_in(
        dir.path(),
        "unseal",
        &["recover", "-i", &identity, &sealed, "-w", "plain.yaml"],
        None,
    )
    .ok();
    let mode = std::fs::metadata(dir.path().join("plain.yaml"))
        .expect("written")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}
