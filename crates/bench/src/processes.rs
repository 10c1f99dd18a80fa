//! Whole-process figures: sealing a big repo in one `seal` call, and start-up.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

/// The CPU model, for the record.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned())
}

fn seal_binary() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let path = exe.with_file_name("seal");
    anyhow::ensure!(
        path.exists(),
        "{} missing: run scripts/bench (it builds seal in release)",
        path.display()
    );
    Ok(path)
}

fn recipients_file() -> String {
    concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../keys-example/recipients.txt"
    )
    .to_owned()
}

fn timed(mut cmd: Command) -> anyhow::Result<f64> {
    let start = Instant::now();
    let status = cmd.stdout(Stdio::null()).status()?;
    anyhow::ensure!(status.success(), "{cmd:?} failed");
    Ok(start.elapsed().as_secs_f64())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// 1,000 Secrets of 5 keys each in one `seal` call.
pub fn repo() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("secrets.yaml");
    let mut text = String::new();
    for i in 0..1000 {
        text.push_str(&format!("---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: s{i}\n  namespace: apps\nstringData:\n"));
        for k in 0..5 {
            text.push_str(&format!("  key{k}: value-{i}-{k}-0123456789abcdef\n"));
        }
    }
    std::fs::write(&file, text)?;
    let seal = seal_binary()?;
    let mut times = Vec::new();
    for _ in 0..5 {
        let mut cmd = Command::new(&seal);
        cmd.args(["-R", &recipients_file(), "-w"])
            .arg(dir.path().join("out.yaml"))
            .arg(&file);
        times.push(timed(cmd)?);
    }
    println!("\n== a big repo ==");
    println!(
        "  seal 1,000 Secrets x 5 keys, one call: {:.3} s median of 5 (target <= 1 s)",
        median(times)
    );
    config_repo(&seal)
}

/// A config repo of 1,000 committed files (500 SealedSecrets in two cluster folders,
/// 500 other manifests) with its 500 plaintext Secrets beside them (Git-ignored):
/// `seal tree` first run and unchanged re-run, and `seal check` with nothing to report.
fn config_repo(seal: &std::path::Path) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let root = dir.path();
    let recipient = std::fs::read_to_string(recipients_file())?;
    let recipient = recipient
        .lines()
        .find(|l| l.starts_with("age1"))
        .unwrap_or_default();
    std::fs::write(
        root.join(".seal.yaml"),
        format!(
            "rules:\n  - path: prod/**\n    recipients: [{recipient}]\n    namespace: apps\n  - path: staging/**\n    recipients: [{recipient}]\n    namespace: apps\n"
        ),
    )?;
    std::fs::write(root.join(".gitignore"), "*.secret.yaml\n.seal-cache/\n")?;
    for cluster in ["prod", "staging"] {
        for i in 0..250 {
            let app = root.join(cluster).join(format!("app{i:03}"));
            std::fs::create_dir_all(&app)?;
            std::fs::write(
                app.join("db.secret.yaml"),
                format!(
                    "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db{i}\nstringData:\n  user: app{i}\n  password: pw-{i}-0123456789abcdef\n"
                ),
            )?;
            std::fs::write(
                app.join("deployment.yaml"),
                format!(
                    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app{i}\nspec:\n  replicas: 2\n  selector:\n    matchLabels: {{app: app{i}}}\n  template:\n    metadata:\n      labels: {{app: app{i}}}\n    spec:\n      containers:\n        - name: app\n          image: registry.example.com/app:{i}\n          envFrom:\n            - secretRef: {{name: db{i}}}\n"
                ),
            )?;
        }
    }
    let run = |args: &[&str]| {
        let mut cmd = Command::new(seal);
        cmd.args(args).current_dir(root);
        cmd.stderr(Stdio::null());
        timed(cmd)
    };
    let first = run(&["tree"])?;
    let again = median(
        (0..5)
            .map(|_| run(&["tree"]))
            .collect::<anyhow::Result<_>>()?,
    );
    let git = |args: &[&str]| -> anyhow::Result<()> {
        let status = Command::new("git")
            .args(args)
            .current_dir(root)
            .stdout(Stdio::null())
            .status()?;
        anyhow::ensure!(status.success(), "git {args:?} failed");
        Ok(())
    };
    git(&["init", "-q"])?;
    git(&["add", "-A"])?;
    let paths = median(
        (0..11)
            .map(|_| run(&["check", "."]))
            .collect::<anyhow::Result<_>>()?,
    );
    let staged = median(
        (0..11)
            .map(|_| run(&["check"]))
            .collect::<anyhow::Result<_>>()?,
    );
    let floor = median(
        (0..11)
            .map(|_| {
                let mut c = Command::new("git");
                c.args(["diff", "--cached", "--name-only"])
                    .current_dir(root);
                timed(c)
            })
            .collect::<anyhow::Result<_>>()?,
    );
    println!(
        "  seal tree, 500 Secret files (1,000 manifests), first run: {:.3} s",
        first
    );
    println!(
        "  seal tree again, nothing changed (writes nothing):     {:.3} s median of 5",
        again
    );
    println!(
        "  seal check ., 1,000 files, nothing to report: {:.1} ms median of 11 = {:.2}x the 50 ms target",
        paths * 1000.0,
        paths / 0.050
    );
    println!(
        "  seal check (1,000 staged files, the hook):   {:.1} ms median of 11 = {:.2}x the 50 ms target; `git diff --cached --name-only` alone: {:.1} ms",
        staged * 1000.0,
        staged / 0.050,
        floor * 1000.0
    );
    Ok(())
}

/// `seal --version` and sealing one small Secret, as whole processes.
pub fn startup() -> anyhow::Result<()> {
    let seal = seal_binary()?;
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("one.yaml");
    std::fs::write(
        &file,
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: one\n  namespace: apps\nstringData:\n  k: v\n",
    )?;
    let version = median(
        (0..21)
            .map(|_| {
                let mut c = Command::new(&seal);
                c.arg("--version");
                timed(c)
            })
            .collect::<anyhow::Result<_>>()?,
    );
    let one = median(
        (0..21)
            .map(|_| {
                let mut c = Command::new(&seal);
                c.args(["-R", &recipients_file()]).arg(&file);
                timed(c)
            })
            .collect::<anyhow::Result<_>>()?,
    );
    let baseline = median(
        (0..21)
            .map(|_| timed(Command::new("true")))
            .collect::<anyhow::Result<_>>()?,
    );
    println!("\n== start-up (whole processes, median of 21) ==");
    println!("  /bin/true (process floor): {:.1} ms", baseline * 1000.0);
    println!(
        "  seal --version:            {:.1} ms = {:.1}x the floor",
        version * 1000.0,
        version / baseline
    );
    println!(
        "  seal one small Secret:     {:.1} ms = {:.1}x the floor",
        one * 1000.0,
        one / baseline
    );
    Ok(())
}
