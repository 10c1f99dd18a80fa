//! The committed sealed examples (examples/sealed/) open with keys-example to exactly the
//! plaintext examples beside them, so the README's demo and the shipped files agree.

use seal_e2e::*;

#[test]
fn committed_sealed_examples_match_their_plaintext() {
    let identity = example_identity();
    for name in ["db-credentials", "harbor-regcred"] {
        let sealed = repo_file(&format!("examples/sealed/{name}.yaml"));
        let out = run("unseal", &["recover", "-i", &identity, &sealed], None).ok();
        let plain =
            std::fs::read_to_string(repo_file(&format!("examples/{name}.yaml"))).expect("example");
        let want = &documents(&plain)[0];
        let mut want_data = secret_data(want);
        if let Some(sd) = want["stringData"].as_object() {
            for (k, v) in sd {
                want_data.insert(k.clone(), v.as_str().expect("string").as_bytes().to_vec());
            }
        }
        assert_eq!(secret_data(&documents(&out)[0]), want_data, "{name}");
    }
}
