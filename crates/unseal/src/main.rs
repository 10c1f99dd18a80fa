//! `unseal`: the seal controller's binary; today its offline recovery tool.

fn main() -> std::process::ExitCode {
    unseal::run()
}
