//! `seal`: turns Kubernetes Secrets into SealedSecrets that are safe to commit.

fn main() -> std::process::ExitCode {
    seal::run()
}
