//! `seal edit`: driven by scripted editors (`EDITOR` set to a small shell script that
//! changes the buffer the way a person would, and records what it saw). The private
//! folder goes under `XDG_RUNTIME_DIR`, pointed at a scratch folder, so that a test can
//! see that nothing is left behind.

use std::path::{Path, PathBuf};

use seal_e2e::*;

const SECRET: &str = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: apps\nstringData:\n  a: one\n  b: two\n  c: three\ndata:\n  bin: /wAB\n";

/// A folder with `db.yaml` sealed to the example key, and a runtime folder.
struct Setup {
    dir: tempfile::TempDir,
    runtime: PathBuf,
}

impl Setup {
    fn new() -> Self {
        let dir = scratch();
        let d = dir.path();
        let runtime = d.join("runtime");
        std::fs::create_dir(&runtime).expect("runtime folder");
        let plain = write(d, "plain.yaml", SECRET);
        run_in(
            d,
            "seal",
            &["-R", &example_recipients(), &plain, "-w", "db.yaml"],
            None,
        )
        .ok();
        std::fs::remove_file(d.join("plain.yaml")).expect("plaintext removed");
        Self { dir, runtime }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes an executable editor script; `$1` is the buffer, `$D` the test folder.
    fn editor(&self, body: &str) -> String {
        let path = self.path().join("editor.sh");
        let script = format!("#!/bin/sh\nD='{}'\n{body}\n", self.path().display());
        std::fs::write(&path, script).expect("editor written");
        set_mode(&path, 0o755);
        path.display().to_string()
    }

    /// Runs `seal edit` with `editor` and the example identity (unless `args` differ).
    fn edit(&self, editor: &str, args: &[&str]) -> Run {
        let runtime = self.runtime.display().to_string();
        run_with_env(
            self.path(),
            "seal",
            args,
            None,
            &[
                ("KUBECONFIG", "/nonexistent/seal-e2e-kubeconfig"),
                ("EDITOR", editor),
                ("VISUAL", ""),
                ("XDG_RUNTIME_DIR", &runtime),
            ],
        )
    }

    fn edit_db(&self, editor: &str) -> Run {
        let identity = example_identity();
        self.edit(editor, &["edit", "db.yaml", "-i", &identity])
    }

    fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.path().join(name)).expect("file")
    }

    /// Nothing is left in the runtime folder: no private folder, no plaintext.
    fn assert_no_plaintext_left(&self) {
        let left: Vec<_> = std::fs::read_dir(&self.runtime)
            .expect("runtime folder")
            .flatten()
            .map(|e| e.path())
            .collect();
        assert!(left.is_empty(), "left behind: {left:?}");
    }

    fn recovered(&self) -> std::collections::BTreeMap<String, Vec<u8>> {
        let identity = example_identity();
        let out = run_in(
            self.path(),
            "unseal",
            &["recover", "-i", &identity, "db.yaml"],
            None,
        )
        .ok();
        secret_data(&documents(&out)[0])
    }
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

fn encrypted(text: &[u8]) -> serde_json::Map<String, serde_json::Value> {
    documents(std::str::from_utf8(text).expect("utf-8"))[0]["spec"]["encryptedData"]
        .as_object()
        .expect("map")
        .clone()
}

#[test]
fn edit_reseals_only_the_changed_added_and_removed_keys() {
    let s = Setup::new();
    let before = s.read("db.yaml");
    let editor = s.editor(
        "sed -i -e 's/^  b: two$/  b: TWO/' -e '/^  c: three$/d' -e 's/^stringData:$/stringData:\\n  d: four/' \"$1\"",
    );
    let run = s.edit_db(&editor);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("db.yaml: document 1: changed b; added d; removed c"),
        "{}",
        run.stderr
    );
    let after = s.read("db.yaml");
    let (old, new) = (encrypted(&before), encrypted(&after));
    for untouched in ["a", "bin"] {
        assert_eq!(new[untouched], old[untouched], "{untouched} was re-sealed");
        let line = String::from_utf8_lossy(&before)
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{untouched}: ")))
            .expect("line")
            .to_owned();
        assert!(
            String::from_utf8_lossy(&after).lines().any(|l| l == line),
            "the line of {untouched} changed"
        );
    }
    assert_ne!(new["b"], old["b"]);
    assert!(!new.contains_key("c"));
    let data = s.recovered();
    let got: Vec<(&str, &[u8])> = data.iter().map(|(k, v)| (k.as_str(), &v[..])).collect();
    assert_eq!(
        got,
        [
            ("a", &b"one"[..]),
            ("b", b"TWO"),
            ("bin", b"\xff\x00\x01"),
            ("d", b"four")
        ]
    );
    s.assert_no_plaintext_left();
}

#[test]
fn an_unchanged_buffer_or_a_comment_writes_nothing() {
    let s = Setup::new();
    let before = s.read("db.yaml");
    for body in ["true", "echo '# only a comment' >> \"$1\""] {
        let run = s.edit_db(&s.editor(body));
        assert_eq!(run.code, Some(0), "{}", run.stderr);
        assert!(
            run.stderr.contains("no changes; nothing written"),
            "{}",
            run.stderr
        );
        assert_eq!(s.read("db.yaml"), before, "{body}");
        s.assert_no_plaintext_left();
    }
}

/// The buffer is 0600 in a 0700 folder under the runtime folder, holds the plaintext
/// the user asked for, and is gone afterwards with whatever the editor left beside it.
#[test]
fn the_plaintext_lives_only_in_a_private_file_that_is_removed() {
    let s = Setup::new();
    let editor = s.editor(
        "stat -c '%a' \"$1\" > \"$D/file-mode\"\nstat -c '%a' \"$(dirname \"$1\")\" > \"$D/dir-mode\"\necho \"$1\" > \"$D/where\"\ncp \"$1\" \"$D/seen\"\necho swap > \"$(dirname \"$1\")/.seal-edit.yaml.swp\"",
    );
    s.edit_db(&editor).ok();
    let text = |name: &str| String::from_utf8(s.read(name)).expect("utf-8");
    assert_eq!(text("file-mode").trim(), "600");
    assert_eq!(text("dir-mode").trim(), "700");
    let runtime = std::fs::canonicalize(&s.runtime).expect("runtime");
    let buffer = PathBuf::from(text("where").trim());
    assert!(
        buffer.starts_with(&runtime) || buffer.starts_with(&s.runtime),
        "{buffer:?} not under {runtime:?}"
    );
    let seen = text("seen");
    assert!(seen.contains("  a: one\n"), "{seen}");
    assert!(
        seen.contains("  bin: /wAB\n"),
        "binary values show as data: {seen}"
    );
    assert!(!buffer.exists());
    s.assert_no_plaintext_left();
}

#[test]
fn an_invalid_buffer_reopens_with_the_error_on_top_and_keeps_the_edit() {
    let s = Setup::new();
    let before = s.read("db.yaml");
    let editor = s.editor(
        "n=$(cat \"$D/count\" 2>/dev/null || echo 0); n=$((n+1)); echo $n > \"$D/count\"\ncase $n in\n1) sed -i -e 's/^  bin: \\/wAB$/  bin: hunter2-not-base64!/' -e 's/^  a: one$/  a: ONE/' \"$1\";;\n2) cp \"$1\" \"$D/second\"; sed -i 's/^  bin: hunter2-not-base64!$/  bin: \\/wAB/' \"$1\";;\nesac",
    );
    let run = s.edit_db(&editor);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let second = String::from_utf8(s.read("second")).expect("utf-8");
    let first_line = second.lines().next().expect("a line");
    assert!(
        first_line
            .starts_with("# error: the edited manifest: document 1: data.bin: not valid base64"),
        "{second}"
    );
    assert!(
        !first_line.contains("hunter2"),
        "the value is in the error: {first_line}"
    );
    assert!(
        second.contains("  a: ONE\n"),
        "the first edit must survive: {second}"
    );
    let (old, new) = (encrypted(&before), encrypted(&s.read("db.yaml")));
    assert_ne!(new["a"], old["a"]);
    assert_eq!(new["bin"], old["bin"]);
    assert_eq!(s.recovered()["a"], b"ONE");
    s.assert_no_plaintext_left();
}

#[test]
fn an_invalid_buffer_saved_unchanged_gives_up_and_writes_nothing() {
    let s = Setup::new();
    let before = s.read("db.yaml");
    let editor = s.editor(
        "n=$(cat \"$D/count\" 2>/dev/null || echo 0); n=$((n+1)); echo $n > \"$D/count\"\nif [ $n = 1 ]; then sed -i 's/^  name: db$/  name: other/' \"$1\"; fi",
    );
    let line = s.edit_db(&editor).fails_with(1);
    assert!(
        line.contains("db.yaml: nothing written: document 1: metadata.name: cannot be changed"),
        "{line}"
    );
    assert_eq!(String::from_utf8_lossy(&s.read("count")).trim(), "2");
    assert_eq!(s.read("db.yaml"), before);
    s.assert_no_plaintext_left();
}

#[test]
fn a_failing_or_interrupted_editor_writes_nothing_and_leaves_no_plaintext() {
    let s = Setup::new();
    let before = s.read("db.yaml");
    let failing = s.editor("sed -i 's/^  a: one$/  a: ONE/' \"$1\"\nexit 3");
    let line = s.edit_db(&failing).fails_with(1);
    assert!(line.contains("exited with status 3"), "{line}");
    assert_eq!(s.read("db.yaml"), before);
    s.assert_no_plaintext_left();
    // A hang-up (the terminal closed) reaches every process of the group: seal must
    // live through it to remove the plaintext. Its own process group keeps the signal
    // away from the test runner.
    let hangup = s.editor("sed -i 's/^  a: one$/  a: ONE/' \"$1\"\nkill -HUP 0\nsleep 5");
    let out = edit_in_own_group(&s, &hangup);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "seal must exit, not die: {stderr}"
    );
    assert!(
        stderr.contains("nothing") || stderr.contains("SIGHUP") || stderr.contains("killed"),
        "{stderr}"
    );
    assert_eq!(s.read("db.yaml"), before);
    s.assert_no_plaintext_left();
}

/// Runs `seal edit db.yaml` in a process group of its own (so that a signal the editor
/// sends to its group reaches seal and not the test runner).
fn edit_in_own_group(s: &Setup, editor: &str) -> std::process::Output {
    use std::os::unix::process::CommandExt;
    let identity = example_identity();
    std::process::Command::new(binary("seal"))
        .args(["edit", "db.yaml", "-i", &identity])
        .current_dir(s.path())
        .env("KUBECONFIG", "/nonexistent/seal-e2e-kubeconfig")
        .env("EDITOR", editor)
        .env("VISUAL", "")
        .env("XDG_RUNTIME_DIR", &s.runtime)
        .process_group(0)
        .output()
        .expect("seal runs")
}

/// Ctrl-C reaches the whole foreground group; vim users press it to leave insert mode.
/// An editor that handles it and saves: the edit counts, and seal neither died nor
/// threw it away.
#[test]
fn ctrl_c_handled_by_the_editor_does_not_stop_the_edit() {
    let s = Setup::new();
    let editor = s.editor("trap '' INT\nkill -INT 0\nsed -i 's/^  a: one$/  a: ONE/' \"$1\"");
    let out = edit_in_own_group(&s, &editor);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(s.recovered()["a"], b"ONE");
    s.assert_no_plaintext_left();
}

#[test]
fn without_an_identity_it_refuses_and_says_how_to_get_one() {
    let s = Setup::new();
    let before = s.read("db.yaml");
    let editor = s.editor("touch \"$D/editor-ran\"");
    let line = s.edit(&editor, &["edit", "db.yaml"]).fails_with(1);
    assert!(line.contains("seal edit needs -i IDENTITY"), "{line}");
    assert!(line.contains("unseal keys export --to"), "{line}");
    assert!(!s.path().join("editor-ran").exists());
    assert_eq!(s.read("db.yaml"), before);
    // With a cluster configured, the same: the cluster is not asked for plaintext.
    let kubeconfig = write(
        s.path(),
        "kubeconfig",
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1'}\nusers:\n- name: u\n  user: {token: t}\ncontexts:\n- name: c\n  context: {cluster: c, user: u}\ncurrent-context: c\n",
    );
    let out = run_with_env(
        s.path(),
        "seal",
        &["edit", "db.yaml"],
        None,
        &[
            ("KUBECONFIG", &kubeconfig),
            ("EDITOR", &editor),
            ("VISUAL", ""),
        ],
    );
    let line = out.fails_with(1);
    assert!(line.contains("never sends plaintext back"), "{line}");
    assert!(!s.path().join("editor-ran").exists());
}

/// A committed link named like the file: editing it would replace the link with
/// whatever it points to, re-sealed. Refused, both files untouched, no editor.
#[test]
fn a_file_that_is_a_symbolic_link_is_refused() {
    let s = Setup::new();
    let before = s.read("db.yaml");
    std::os::unix::fs::symlink(s.path().join("db.yaml"), s.path().join("link.yaml")).expect("link");
    let editor = s.editor("touch \"$D/editor-ran\"");
    let identity = example_identity();
    let line = s
        .edit(&editor, &["edit", "link.yaml", "-i", &identity])
        .fails_with(1);
    assert!(
        line.contains("link.yaml: a symbolic link; nothing edited"),
        "{line}"
    );
    assert!(!s.path().join("editor-ran").exists());
    assert_eq!(s.read("db.yaml"), before);
    assert!(
        std::fs::symlink_metadata(s.path().join("link.yaml"))
            .expect("link")
            .file_type()
            .is_symlink()
    );
}

fn attacker_recipient(d: &Path) -> String {
    run_in(d, "seal", &["keygen", "-o", "attacker.key"], None).ok();
    std::fs::read_to_string(d.join("attacker.key"))
        .expect("key")
        .lines()
        .find_map(|l| l.strip_prefix("# public key: ").map(str::to_owned))
        .expect("recipient")
}

/// Someone with write access to the repo adds their key to `spec.recipients`, hoping the
/// next edit seals the new value to them. The values were not sealed to it, so the
/// counts differ: refused before the editor opens.
#[test]
fn a_recipient_slipped_into_the_list_is_refused_before_anything_opens() {
    let s = Setup::new();
    let d = s.path();
    let attacker = attacker_recipient(d);
    let text = String::from_utf8(s.read("db.yaml")).expect("utf-8");
    let recipient = std::fs::read_to_string(example_recipients())
        .expect("recipients")
        .lines()
        .find(|l| l.starts_with("age1"))
        .expect("recipient")
        .to_owned();
    let forged = text.replace(
        &format!("  - {recipient}\n"),
        &format!("  - {recipient}\n  - {attacker}\n"),
    );
    assert_ne!(forged, text, "the list was not found");
    std::fs::write(d.join("db.yaml"), &forged).expect("forged");
    let editor = s.editor("touch \"$D/editor-ran\"");
    let line = s.edit_db(&editor).fails_with(1);
    assert!(
        line.contains("is sealed to 1 recipient(s) but spec.recipients lists 2"),
        "{line}"
    );
    assert!(!d.join("editor-ran").exists());
    assert_eq!(s.read("db.yaml"), forged.as_bytes());
}

/// The thorough attacker replaces the whole object with one sealed to the example key and
/// their own (counts agree). A `.seal.yaml` rule for the folder names who may hold the
/// values: the object is refused, pointing at `seal recipients sync`.
#[test]
fn an_object_sealed_to_a_recipient_the_rules_do_not_list_is_refused() {
    let s = Setup::new();
    let d = s.path();
    let attacker = attacker_recipient(d);
    std::fs::write(
        d.join(".seal.yaml"),
        format!(
            "rules:\n  - path: '**'\n    recipientsFiles: [{}]\n",
            example_recipients()
        ),
    )
    .expect("rules");
    let plain = write(d, "plain.yaml", SECRET);
    run_in(
        d,
        "seal",
        &[
            "-R",
            &example_recipients(),
            "-r",
            &attacker,
            &plain,
            "-w",
            "db.yaml",
        ],
        None,
    )
    .ok();
    std::fs::remove_file(&plain).expect("removed");
    let before = s.read("db.yaml");
    let editor = s.editor("touch \"$D/editor-ran\"");
    let line = s.edit_db(&editor).fails_with(1);
    assert!(
        line.contains(&format!("sealed to {attacker} which the rule at")),
        "{line}"
    );
    assert!(line.contains("seal recipients sync db.yaml"), "{line}");
    assert!(!d.join("editor-ran").exists());
    assert_eq!(s.read("db.yaml"), before);
}

/// An editor (or anything else running as the user) that swaps the buffer for a link to
/// another file: seal neither reads the other file as the edit nor wipes it.
#[test]
fn a_buffer_swapped_for_a_link_is_not_followed() {
    let s = Setup::new();
    let before = s.read("db.yaml");
    let victim = write(
        s.path(),
        "victim.yaml",
        &SECRET.replace("a: one", "a: planted"),
    );
    let editor = s.editor(&format!("rm \"$1\"\nln -s '{victim}' \"$1\""));
    let line = s.edit_db(&editor).fails_with(1);
    assert!(
        line.contains("cannot be read back; nothing written"),
        "{line}"
    );
    assert!(line.contains("not a regular file"), "{line}");
    assert_eq!(s.read("db.yaml"), before);
    assert_eq!(
        std::fs::read_to_string(&victim).expect("victim"),
        SECRET.replace("a: one", "a: planted")
    );
    s.assert_no_plaintext_left();
}

/// Without rules, an object fully re-sealed to the example key and a stranger's key
/// (counts agree) cannot be told from a legitimate one by its shape. seal refuses it
/// before the editor opens, naming the recipient it knows nothing of; named with
/// `--trust-recipient`, the edit goes ahead and the buffer says who each recipient is.
#[test]
fn a_recipient_nobody_vouches_for_is_refused_unless_named() {
    let s = Setup::new();
    let d = s.path();
    let stranger = attacker_recipient(d);
    let plain = write(d, "plain.yaml", SECRET);
    run_in(
        d,
        "seal",
        &[
            "-R",
            &example_recipients(),
            "-r",
            &stranger,
            &plain,
            "-w",
            "db.yaml",
        ],
        None,
    )
    .ok();
    std::fs::remove_file(&plain).expect("removed");
    let before = s.read("db.yaml");
    let config = d.join("config").display().to_string();
    let runtime = s.runtime.display().to_string();
    let identity = example_identity();
    let edit = |editor: &str, extra: &[&str]| {
        let mut args = vec!["edit", "db.yaml", "-i", &identity];
        args.extend(extra);
        run_with_env(
            d,
            "seal",
            &args,
            None,
            &[
                ("KUBECONFIG", "/nonexistent/seal-e2e-kubeconfig"),
                ("EDITOR", editor),
                ("VISUAL", ""),
                ("XDG_RUNTIME_DIR", &runtime),
                ("SEAL_CONFIG_DIR", &config),
            ],
        )
    };
    let editor = s.editor("touch \"$D/editor-ran\"\nsed -i 's/a: one/a: changed/' \"$1\"");
    let line = edit(&editor, &[]).fails_with(1);
    assert!(
        line.contains(&format!(
            "values would be sealed to {stranger}, which seal knows nothing of"
        )),
        "{line}"
    );
    assert!(line.contains("--trust-recipient"), "{line}");
    assert!(!d.join("editor-ran").exists(), "refused before the editor");
    assert_eq!(s.read("db.yaml"), before);
    s.assert_no_plaintext_left();

    let editor = s.editor("cp \"$1\" \"$D/seen\"\nsed -i 's/a: one/a: changed/' \"$1\"");
    let run = edit(&editor, &["--trust-recipient", &stranger]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    let seen = String::from_utf8(s.read("seen")).expect("utf-8");
    assert!(
        seen.contains(&format!("#   {stranger} (named on the command line)")),
        "{seen}"
    );
    assert!(seen.contains("(your identity)"), "{seen}");
    assert_eq!(s.recovered()["a"], b"changed");
}

/// The attack on `seal recipients add -i`: someone with write access to the repo swaps
/// the break-glass key in `spec.recipients` for their own (the count still agrees with
/// the values' stanzas, and no rule covers the file). The maintainer adds a recipient
/// with an identity that opens the values: before, every value was re-sealed to the
/// swapped-in key too. Now it is refused before anything is opened, naming the key, and
/// the file is left as it was.
#[test]
fn recipients_add_refuses_a_key_swapped_into_the_list() {
    let s = Setup::new();
    let d = s.path();
    let attacker = attacker_recipient(d);
    run_in(d, "seal", &["keygen", "-o", "dr.key"], None).ok();
    let dr = std::fs::read_to_string(d.join("dr.key"))
        .expect("key")
        .lines()
        .find_map(|l| l.strip_prefix("# public key: ").map(str::to_owned))
        .expect("recipient");
    let plain = write(d, "plain.yaml", SECRET);
    run_in(
        d,
        "seal",
        &[
            "-R",
            &example_recipients(),
            "-r",
            &dr,
            &plain,
            "-w",
            "db.yaml",
        ],
        None,
    )
    .ok();
    std::fs::remove_file(&plain).expect("removed");
    let text = String::from_utf8(s.read("db.yaml")).expect("utf-8");
    let forged = text.replace(&dr, &attacker);
    assert_ne!(forged, text, "the key was not found");
    std::fs::write(d.join("db.yaml"), &forged).expect("forged");
    run_in(d, "seal", &["keygen", "-o", "new.key"], None).ok();
    let new = std::fs::read_to_string(d.join("new.key"))
        .expect("key")
        .lines()
        .find_map(|l| l.strip_prefix("# public key: ").map(str::to_owned))
        .expect("recipient");
    let config = d.join("config").display().to_string();
    let identity = example_identity();
    let run = run_with_env(
        d,
        "seal",
        &["recipients", "add", "db.yaml", "-r", &new, "-i", &identity],
        None,
        &[
            ("KUBECONFIG", "/nonexistent/seal-e2e-kubeconfig"),
            ("SEAL_CONFIG_DIR", &config),
        ],
    );
    let line = run.fails_with(1);
    assert!(
        line.contains(&format!(
            "db.yaml: document 1: values would be sealed to {attacker}"
        )),
        "{line}"
    );
    assert_eq!(s.read("db.yaml"), forged.as_bytes(), "nothing written");
    // The attacker's key still opens nothing.
    let out = run_in(
        d,
        "unseal",
        &["recover", "-i", "attacker.key", "db.yaml"],
        None,
    );
    assert_ne!(out.code, Some(0), "the attacker's key opens nothing");
}

/// The editor holds the plaintext too: it runs with core dumps off (a limit of 0 it
/// cannot raise), also when seal itself was started with them on.
#[cfg(target_os = "linux")]
#[test]
fn the_editor_runs_with_core_dumps_off() {
    let s = Setup::new();
    let d = s.path();
    let editor = s.editor("ulimit -S -c > \"$D/soft\"\nulimit -H -c > \"$D/hard\"");
    let identity = example_identity();
    let runtime = s.runtime.display().to_string();
    let seal = binary("seal");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("ulimit -S -c unlimited 2>/dev/null; ulimit -S -c > \"$D/before\"; exec \"$@\"")
        .arg("sh")
        .arg(&seal)
        .args(["edit", "db.yaml", "-i", &identity])
        .current_dir(d)
        .env("D", d)
        .env("EDITOR", &editor)
        .env("VISUAL", "")
        .env("XDG_RUNTIME_DIR", &runtime)
        .env("KUBECONFIG", "/nonexistent/seal-e2e-kubeconfig")
        .output()
        .expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read = |name: &str| {
        std::fs::read_to_string(d.join(name))
            .expect("written")
            .trim()
            .to_owned()
    };
    assert_eq!(
        read("before"),
        "unlimited",
        "the shell could not turn core dumps on"
    );
    assert_eq!(read("soft"), "0");
    assert_eq!(read("hard"), "0");
}

/// A file of two SealedSecrets: editing a key of the second leaves every byte of the
/// first as it was, and the second's other key too.
#[test]
fn only_the_edited_object_of_a_file_changes() {
    let s = Setup::new();
    let d = s.path();
    let plain = write(
        d,
        "plain.yaml",
        &format!(
            "{SECRET}---\n{}",
            SECRET
                .replace("name: db", "name: api")
                .replace("c: three", "c: drei")
        ),
    );
    run_in(
        d,
        "seal",
        &["-R", &example_recipients(), &plain, "-w", "db.yaml"],
        None,
    )
    .ok();
    std::fs::remove_file(&plain).expect("removed");
    let before = String::from_utf8(s.read("db.yaml")).expect("utf-8");
    let editor = s.editor("sed -i 's/^  c: drei$/  c: DREI/' \"$1\"");
    let run = s.edit_db(&editor);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(
        run.stderr.contains("document 2: changed c"),
        "{}",
        run.stderr
    );
    let after = String::from_utf8(s.read("db.yaml")).expect("utf-8");
    let first = |text: &str| text.split("\n---\n").next().expect("first").to_owned();
    assert_eq!(
        first(&after),
        first(&before),
        "the first object is untouched"
    );
    let changed: Vec<(&str, &str)> = before
        .lines()
        .zip(after.lines())
        .filter(|(a, b)| a != b)
        .collect();
    assert_eq!(changed.len(), 1, "one line changes: {changed:?}");
    assert!(changed[0].0.trim_start().starts_with("c: "));
}
