//! `seal-bench`: the benchmark suite. Run it with `scripts/bench` (release build). Every
//! figure is printed beside its reference, measured in the same run, as a ratio.
//!
//! `seal-bench [crypto|flood|repo|startup|controller [N] [--real]]...` (all when none is
//! named). `--real` runs the controller against the real control plane too, after the
//! double, and prints the two side by side. `seal-bench bitnami [N]` (only when named;
//! it needs Go) runs unseal beside the real bitnami sealed-secrets controller on one real
//! control plane (N = 1,000 by default).

mod bitnami;
mod controller;
mod controller_real;
mod crypto;
mod flood;
mod processes;
mod restart;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let all = args.is_empty();
    let wants = |name: &str| all || args.iter().any(|a| a == name);
    println!(
        "machine: {} cores; {}",
        std::thread::available_parallelism().map_or(0, usize::from),
        processes::cpu_model()
    );
    if wants("crypto") {
        crypto::run()?;
    }
    if wants("flood") {
        flood::run()?;
    }
    if wants("repo") {
        processes::repo()?;
    }
    if wants("startup") {
        processes::startup()?;
    }
    if wants("controller") {
        let n = args
            .iter()
            .skip_while(|a| *a != "controller")
            .nth(1)
            .and_then(|a| a.parse().ok())
            .unwrap_or(10_000);
        let runtime = tokio::runtime::Runtime::new()?;
        let double = runtime.block_on(controller::parent(n))?;
        if args.iter().any(|a| a == "--real") {
            let real = runtime.block_on(controller_real::run(n))?;
            controller_real::compare(&real, &double);
        }
    }
    if args.iter().any(|a| a == "bitnami") {
        let n = args
            .iter()
            .skip_while(|a| *a != "bitnami")
            .nth(1)
            .and_then(|a| a.parse().ok())
            .unwrap_or(1000);
        tokio::runtime::Runtime::new()?.block_on(bitnami::run(n))?;
    }
    Ok(())
}
