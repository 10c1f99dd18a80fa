//! Shell completion of the built binaries: the bash script really completes (bash runs
//! its completion function on typed words), every other shell gets a script for the
//! right program, and `kubectl seal` completes through the kubectl_complete-seal script
//! that `seal completion kubectl` prints, run as kubectl runs it.

use std::path::Path;
use std::process::Command;

use seal_e2e::*;

/// What bash's completion function of `program` offers for `words` (the last one being
/// completed).
fn bash_completes(program: &str, words: &[&str]) -> Vec<String> {
    let dir = scratch();
    let script = run(program, &["completion", "bash"], None).ok();
    let file = write(dir.path(), "completion.bash", &script);
    let line: Vec<String> = std::iter::once(program.to_owned())
        .chain(words.iter().map(|w| format!("'{w}'")))
        .collect();
    let previous = if words.len() >= 2 {
        words[words.len() - 2]
    } else {
        program
    };
    let current = words.last().copied().unwrap_or_default();
    let shell = format!(
        "source '{file}'\nCOMP_WORDS=({})\nCOMP_CWORD={}\n_{program} {program} '{current}' '{previous}'\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        line.join(" "),
        words.len()
    );
    let out = Command::new("bash")
        .args(["--norc", "-c", &shell])
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn bash_completes_the_daily_commands_of_both_programs() {
    assert_eq!(bash_completes("seal", &["rec"]), ["recipients"]);
    assert_eq!(bash_completes("seal", &["recipients", "sy"]), ["sync"]);
    assert!(bash_completes("seal", &["edit", "--ide"]).contains(&"--identity".to_owned()));
    assert_eq!(bash_completes("seal", &["completion", "fi"]), ["fish"]);
    assert_eq!(bash_completes("unseal", &["keys", "ret"]), ["retire"]);
    let everything = bash_completes("seal", &[""]);
    assert!(everything.contains(&"edit".to_owned()), "{everything:?}");
    assert!(
        !everything.iter().any(|w| w.starts_with("__")),
        "kubectl's completion request is no command to offer: {everything:?}"
    );
}

#[test]
fn every_shell_gets_a_script_for_the_right_program() {
    for program in ["seal", "unseal"] {
        for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
            let script = run(program, &["completion", shell], None).ok();
            assert!(
                script.contains(&format!("'{program}'"))
                    || script.contains(&format!("_{program}"))
                    || script.contains(&format!("-c {program} ")),
                "{program} {shell}: {}",
                &script[..script.len().min(300)]
            );
        }
        let zsh = run(program, &["completion", "zsh"], None).ok();
        assert!(zsh.starts_with(&format!("#compdef {program}\n")), "{zsh}");
    }
    // Without the subcommand, `completion` would have been read as a file to seal.
    let refused = run("seal", &["completion", "tcsh"], None);
    assert_eq!(refused.code, Some(2), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("invalid value 'tcsh'"),
        "{}",
        refused.stderr
    );
    assert!(refused.stdout.is_empty());
}

/// kubectl finds `kubectl_complete-seal` on PATH and runs it with the words after
/// `kubectl seal`; the script asks kubectl-seal, which must be on PATH too.
#[test]
fn kubectl_seal_completes_through_kubectl_complete_seal() {
    let dir = scratch();
    let script = run("seal", &["completion", "kubectl"], None).ok();
    let path = dir.path().join("kubectl_complete-seal");
    std::fs::write(&path, &script).expect("written");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let bin_dir = binary("kubectl-seal")
        .parent()
        .map(Path::to_path_buf)
        .expect("target folder");
    let search = format!(
        "{}:{}:/usr/bin:/bin",
        dir.path().display(),
        bin_dir.display()
    );
    let complete = |words: &[&str]| {
        let out = Command::new(&path)
            .args(words)
            .env("PATH", &search)
            .output()
            .expect("runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(complete(&["recipients", "s"]), "sync\n:4\n");
    assert_eq!(complete(&["edit", "--id"]), "--identity\n:4\n");
    assert_eq!(complete(&["raw", "--scope", "c"]), "cluster\n:4\n");
    assert_eq!(
        complete(&["edit", "-i", ""]),
        ":0\n",
        "paths: the shell's files"
    );
    let top = complete(&[""]);
    for daily in ["edit", "recipients", "completion"] {
        assert!(top.lines().any(|l| l == daily), "{top}");
    }
    assert!(!top.contains("__complete"), "{top}");

    // Installed by krew, the plugin is kubectl-seal-secret and kubectl-seal is not on PATH.
    let krew = scratch();
    std::os::unix::fs::symlink(
        binary("kubectl-seal"),
        krew.path().join("kubectl-seal-secret"),
    )
    .expect("link");
    let out = Command::new(&path)
        .args(["recipients", "s"])
        .env("PATH", format!("{}:/usr/bin:/bin", krew.path().display()))
        .output()
        .expect("runs");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "sync\n:4\n");
}
