//! `unseal`: the seal controller and its key and recovery tools.

/// mimalloc returns freed pages to the system soon after a burst (the initial sync of
/// thousands of SealedSecrets), where glibc's allocator keeps them: at 10,000
/// SealedSecrets that is the difference between the idle RSS target met or missed.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    unseal::run()
}
