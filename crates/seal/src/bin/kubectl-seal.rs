//! `kubectl-seal`: the same program as `seal`, named so that `kubectl seal` finds it.

fn main() -> std::process::ExitCode {
    seal::run()
}
