//! `unseal`: the seal controller and its key and recovery tools.

/// jemalloc, with background purging, returns the pages freed after a burst (the initial
/// sync of thousands of SealedSecrets) to the system, where glibc's allocator keeps them:
/// at 10,000 SealedSecrets that is the difference between the idle RSS target met or
/// missed (docs/PERFORMANCE.md). It runs with one arena (`narenas:1`, set at build time
/// in .cargo/config.toml), which keeps the resident memory after a burst close to the
/// live heap.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    unseal::run()
}
