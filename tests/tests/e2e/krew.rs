//! deploy/krew/seal-secret.yaml against the rules krew's own validator applies to a
//! plugin manifest (read from krew's source, written here anew): the API version and
//! kind, a safe plugin name equal to the file's name, a one-line short description, a
//! `v`-prefixed semantic version, and for each platform a uri, a sha256 of 64 lower-case
//! hex digits, a `bin`, `files` entries with both ends, and a selector on `os` and `arch`
//! only, matching one of the platforms krew knows, no two platforms selecting the same
//! one. Beyond krew: the version is the workspace's, `bin` is the binary the seal package
//! builds for kubectl, and a license file is installed.

use std::collections::BTreeSet;

use seal_e2e::*;
use serde_json::Value;

/// The platforms krew's validator knows.
const KNOWN_PLATFORMS: [(&str, &str); 11] = [
    ("windows", "386"),
    ("windows", "amd64"),
    ("windows", "arm64"),
    ("linux", "386"),
    ("linux", "amd64"),
    ("linux", "arm"),
    ("linux", "arm64"),
    ("linux", "ppc64le"),
    ("darwin", "386"),
    ("darwin", "amd64"),
    ("darwin", "arm64"),
];

/// Names Windows reserves, which krew refuses as plugin names.
const WINDOWS_RESERVED: [&str; 22] = [
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

fn is_semver_with_v(version: &str) -> bool {
    let Some(rest) = version.strip_prefix('v') else {
        return false;
    };
    let core = rest.split(['-', '+']).next().unwrap_or_default();
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars().all(|c| c.is_ascii_digit())
                && (p.len() == 1 || !p.starts_with('0'))
        })
}

/// Whether a selector (matchLabels only, as this manifest uses) selects os/arch.
fn selects(selector: &Value, os: &str, arch: &str) -> bool {
    let labels = selector["matchLabels"].as_object();
    labels.is_some_and(|l| {
        l.iter().all(|(k, v)| match k.as_str() {
            "os" => v == os,
            "arch" => v == arch,
            _ => false,
        })
    })
}

/// Every problem krew's rules find in a manifest named `file_name`.
fn problems(file_name: &str, manifest: &Value) -> Vec<String> {
    let mut found = Vec::new();
    let mut fail = |p: String| found.push(p);
    let Some(name) = file_name.strip_suffix(".yaml") else {
        return vec!["the file must end in .yaml".into()];
    };
    if manifest["apiVersion"] != "krew.googlecontainertools.github.com/v1alpha2" {
        fail("apiVersion".into());
    }
    if manifest["kind"] != "Plugin" {
        fail("kind".into());
    }
    let safe = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && !WINDOWS_RESERVED
            .iter()
            .any(|r| r.eq_ignore_ascii_case(name));
    if !safe {
        fail(format!("unsafe plugin name {name}"));
    }
    if manifest["metadata"]["name"] != name {
        fail("metadata.name differs from the file name".into());
    }
    let spec = &manifest["spec"];
    match spec["shortDescription"].as_str() {
        Some(s) if !s.is_empty() && !s.contains(['\r', '\n']) => {}
        _ => fail("shortDescription: one non-empty line".into()),
    }
    if !spec["version"].as_str().is_some_and(is_semver_with_v) {
        fail("version: vMAJOR.MINOR.PATCH".into());
    }
    let platforms = spec["platforms"].as_array().cloned().unwrap_or_default();
    if platforms.is_empty() {
        fail("platforms: none".into());
    }
    for (i, p) in platforms.iter().enumerate() {
        if p["uri"].as_str().is_none_or(str::is_empty) {
            fail(format!("platforms[{i}].uri"));
        }
        let sha_ok = p["sha256"].as_str().is_some_and(|s| {
            s.len() == 64
                && s.chars()
                    .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
        });
        if !sha_ok {
            fail(format!("platforms[{i}].sha256"));
        }
        if p["bin"].as_str().is_none_or(str::is_empty) {
            fail(format!("platforms[{i}].bin"));
        }
        match &p["files"] {
            Value::Null => {}
            Value::Array(ops) if !ops.is_empty() => {
                for op in ops {
                    for end in ["from", "to"] {
                        if op[end].as_str().is_none_or(str::is_empty) {
                            fail(format!("platforms[{i}].files: {end}"));
                        }
                    }
                }
            }
            _ => fail(format!("platforms[{i}].files: unset or non-empty")),
        }
        let selector = &p["selector"];
        let labels = selector["matchLabels"].as_object();
        let expressions = selector["matchExpressions"].as_array();
        if labels.is_none_or(|l| l.is_empty()) && expressions.is_none_or(|e| e.is_empty()) {
            fail(format!("platforms[{i}].selector: empty"));
        }
        if expressions.is_some() {
            fail(format!(
                "platforms[{i}].selector: matchExpressions (not used here; check by hand)"
            ));
        }
        if labels.is_some_and(|l| l.keys().any(|k| k != "os" && k != "arch")) {
            fail(format!(
                "platforms[{i}].selector: keys other than os and arch"
            ));
        }
        if !KNOWN_PLATFORMS
            .iter()
            .any(|(os, arch)| selects(selector, os, arch))
        {
            fail(format!(
                "platforms[{i}].selector matches no platform krew knows"
            ));
        }
    }
    for (os, arch) in KNOWN_PLATFORMS {
        let n = platforms
            .iter()
            .filter(|p| selects(&p["selector"], os, arch))
            .count();
        if n > 1 {
            fail(format!("{n} platforms select {os}/{arch}"));
        }
    }
    found
}

fn manifest() -> Value {
    let text =
        std::fs::read_to_string(repo_file("deploy/krew/seal-secret.yaml")).expect("manifest");
    documents(&text).remove(0)
}

#[test]
fn the_krew_manifest_passes_krews_rules_and_installs_our_binary() {
    let manifest = manifest();
    assert_eq!(
        problems("seal-secret.yaml", &manifest),
        Vec::<String>::new()
    );
    let workspace = std::fs::read_to_string(repo_file("Cargo.toml")).expect("workspace manifest");
    let version = workspace
        .lines()
        .find_map(|l| l.strip_prefix("version = \""))
        .and_then(|v| v.strip_suffix('"'))
        .expect("workspace version");
    assert_eq!(manifest["spec"]["version"], format!("v{version}"));
    let seal = std::fs::read_to_string(repo_file("crates/seal/Cargo.toml")).expect("manifest");
    for p in manifest["spec"]["platforms"].as_array().expect("platforms") {
        let bin = p["bin"].as_str().expect("bin");
        assert!(
            seal.contains(&format!("name = \"{bin}\"")),
            "{bin} is built by seal"
        );
        let installed: BTreeSet<&str> = p["files"]
            .as_array()
            .expect("files")
            .iter()
            .filter_map(|f| f["from"].as_str())
            .collect();
        assert!(
            installed.contains(bin) && installed.contains("LICENSE"),
            "{installed:?}"
        );
        let uri = p["uri"].as_str().expect("uri");
        assert!(uri.contains(&format!("/v{version}/")), "{uri}");
    }
}

/// The checks can fail: each broken copy of the manifest is caught for its reason.
#[test]
fn krews_rules_catch_broken_manifests() {
    let good = manifest();
    let broken = |change: &dyn Fn(&mut Value)| {
        let mut m = good.clone();
        change(&mut m);
        problems("seal-secret.yaml", &m)
    };
    assert!(
        problems("seal.yaml", &good)
            .iter()
            .any(|p| p.contains("metadata.name"))
    );
    assert!(
        problems("con.yaml", &good)
            .iter()
            .any(|p| p.contains("unsafe"))
    );
    assert!(!broken(&|m| m["spec"]["version"] = "0.1.0".into()).is_empty());
    assert!(!broken(&|m| m["spec"]["shortDescription"] = "two\nlines".into()).is_empty());
    assert!(!broken(&|m| m["spec"]["platforms"][0]["sha256"] = "ABC".into()).is_empty());
    assert!(
        !broken(&|m| m["spec"]["platforms"][1]["selector"]["matchLabels"]["arch"] = "amd64".into())
            .is_empty()
    );
    assert!(
        !broken(&|m| m["spec"]["platforms"][0]["selector"]["matchLabels"]["os"] = "plan9".into())
            .is_empty()
    );
    assert!(!broken(&|m| m["spec"]["platforms"][0]["files"] = serde_json::json!([])).is_empty());
    assert!(
        !broken(
            &|m| m["spec"]["platforms"][0]["selector"]["matchLabels"]["distro"] = "debian".into()
        )
        .is_empty()
    );
}
