//! The image and how the README tells users to get one. Images cannot be built on these
//! machines (no registry is reachable), so the Dockerfile is checked as text: every base
//! pinned by digest, a static musl build for amd64 and arm64 chosen by the platform being
//! built, a numeric non-root user matching the Deployment's. The default image must
//! name a registry that cannot exist, and the README must give the steps and explain the
//! symptom of skipping them, with the condition reasons the controller really reports.

use seal_e2e::*;

fn read(path: &str) -> String {
    std::fs::read_to_string(repo_file(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The Dockerfile's instructions, continuation lines joined.
fn instructions() -> Vec<String> {
    let text = read("Dockerfile");
    let mut out: Vec<String> = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(head) => {
                current.push_str(head);
                current.push(' ');
            }
            None => {
                current.push_str(line);
                out.push(std::mem::take(&mut current));
            }
        }
    }
    out
}

#[test]
fn every_base_image_is_pinned_by_digest() {
    let froms: Vec<String> = instructions()
        .into_iter()
        .filter(|i| i.starts_with("FROM "))
        .collect();
    assert_eq!(
        froms.len(),
        2,
        "a build stage and the runtime stage: {froms:?}"
    );
    for from in &froms {
        let image = from.split_whitespace().nth(1).expect("an image");
        let digest = image
            .split_once("@sha256:")
            .map(|(_, d)| d)
            .unwrap_or_else(|| panic!("{from}: not pinned by digest"));
        assert!(
            digest.len() == 64 && digest.chars().all(|c| c.is_ascii_hexdigit()),
            "{from}"
        );
    }
    assert!(
        froms[1].contains("distroless/static"),
        "a static base with no shell or libc: {}",
        froms[1]
    );
}

#[test]
fn the_build_is_static_for_amd64_and_arm64_and_runs_as_the_deployments_user() {
    let steps = instructions();
    let all = steps.join("\n");
    assert!(all.contains("ARG TARGETARCH"), "the platform being built");
    for (arch, target) in [
        ("amd64", "x86_64-unknown-linux-musl"),
        ("arm64", "aarch64-unknown-linux-musl"),
    ] {
        assert!(
            all.contains(&format!("{arch}) echo {target} ;;")),
            "{arch} builds {target}"
        );
    }
    assert!(
        all.contains("*) echo \"unsupported platform"),
        "other platforms are refused, not built wrongly"
    );
    assert!(all.contains("cargo build --release --locked --target \"$target\""));
    assert!(
        all.contains("if ldd /unseal >/dev/null 2>&1; then echo \"unseal is dynamically linked\""),
        "the build fails on a dynamic binary"
    );
    let user = steps
        .iter()
        .rev()
        .find_map(|s| s.strip_prefix("USER "))
        .expect("a USER in the runtime stage");
    assert_eq!(user, "65532:65532", "numeric, non-root");
    let deployment = read("deploy/deployment.yaml");
    assert!(deployment.contains("runAsUser: 65532") && deployment.contains("runAsGroup: 65532"));
    assert!(deployment.contains("readOnlyRootFilesystem: true"));
}

/// The Dockerfile's platform → Rust target mapping, run by `sh` as the build would run it.
#[test]
fn the_platform_mapping_runs_as_written() {
    let steps = instructions();
    let step = steps
        .iter()
        .find(|s| s.contains("case \"${TARGETARCH"))
        .expect("the platform mapping");
    let start = step.find("case ").expect("case");
    let end = step.find("esac").expect("esac") + "esac".len();
    let mapping = &step[start..end];
    let target_of = |arch: &str| {
        std::process::Command::new("sh")
            .args(["-c", mapping])
            .env("TARGETARCH", arch)
            .output()
            .expect("sh runs")
    };
    for (arch, target) in [
        ("amd64", "x86_64-unknown-linux-musl"),
        ("arm64", "aarch64-unknown-linux-musl"),
    ] {
        let out = target_of(arch);
        assert!(out.status.success(), "{arch}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            target,
            "{arch}"
        );
    }
    let out = target_of("s390x");
    assert!(!out.status.success(), "s390x must be refused");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unsupported platform s390x"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_default_image_names_a_registry_that_cannot_exist() {
    let deployment = documents(&read("deploy/deployment.yaml")).remove(0);
    let image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
        .as_str()
        .expect("image")
        .to_owned();
    let host = image.split('/').next().expect("a registry host");
    // .invalid is reserved (RFC 2606): it never resolves, so a pull fails naming it.
    assert!(host.ends_with(".invalid"), "{image}");
    let values = documents(&read("deploy/chart/values.yaml")).remove(0);
    assert_eq!(
        format!(
            "{}:0.1.0",
            values["image"]["repository"].as_str().expect("repository")
        ),
        image,
        "the chart's default is the same placeholder"
    );
    let notes = read("deploy/chart/templates/NOTES.txt");
    assert!(
        notes.contains("hasSuffix \".invalid/unseal\""),
        "helm install warns"
    );
}

/// The README's section `## TITLE`, up to the next `## `.
fn section(readme: &str, title: &str) -> String {
    let start = readme
        .find(&format!("\n## {title}\n"))
        .unwrap_or_else(|| panic!("README has no section {title}"));
    let rest = &readme[start + 1..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |e| e + 3);
    rest[..end].to_owned()
}

#[test]
fn the_readme_installs_both_ways_and_says_how_to_get_an_image() {
    let readme = read("README.md");
    let install = section(&readme, "Install the controller");
    for needed in [
        "kubectl apply -k deploy/cluster",
        "helm install unseal deploy/chart",
        "--set image.repository=",
        "kustomize edit set image set-your-registry.invalid/unseal=",
        "docker buildx build --platform linux/amd64,linux/arm64",
        "cannot build",
        "watchNamespaces",
        "examples/namespaced-install",
        "prometheusRule.enabled",
        "v3.22.0",
    ] {
        assert!(
            install.contains(needed),
            "the install section lacks {needed:?}"
        );
    }
    // The helm version the README names is the one scripts/helm builds.
    assert!(read("tests/helm/go.mod").contains("helm.sh/helm/v3 v3.22.0"));
}

#[test]
fn troubleshooting_covers_what_users_hit_with_reasons_the_controller_reports() {
    let readme = read("README.md");
    let trouble = section(&readme, "Troubleshooting");
    for heading in [
        "ImagePullBackOff",
        "`NoMatchingKey` after a restore",
        "`SecretNotOwned`",
        "`MergeNotAllowed`",
        "Argo CD shows a SealedSecret as Progressing",
    ] {
        assert!(trouble.contains(heading), "Troubleshooting lacks {heading}");
    }
    for command in [
        "kubectl -n seal-system describe pods",
        "unseal keys import",
        "seal.dev/adopt=true",
        "seal.dev/merge-keys=",
        "UNSEAL_NAMESPACES",
    ] {
        assert!(trouble.contains(command), "Troubleshooting lacks {command}");
    }
    // The reasons and names it uses are the code's own.
    let code = [
        "crates/seal-core/src/error.rs",
        "crates/unseal/src/secret_sync/mod.rs",
        "crates/unseal/src/cli.rs",
        "deploy/argocd/sealedsecret-health.lua",
    ]
    .map(read)
    .join("\n");
    for name in [
        "\"NoMatchingKey\"",
        "\"SecretNotOwned\"",
        "\"MergeNotAllowed\"",
        "\"seal.dev/adopt\"",
        "\"seal.dev/merge-keys\"",
        "\"UNSEAL_NAMESPACES\"",
        "\"Progressing\"",
    ] {
        assert!(
            code.contains(name),
            "{name} is not in the code the README names"
        );
    }
}
