//! The `sealtrail` binary.

use clap::Parser;

/// The sequencer frees, on its own thread, what the HTTP workers
/// allocated for each event; mimalloc's per-thread free lists make those
/// cross-thread frees cheap where glibc's allocator spent about a fifth of
/// the sequencer's time (see docs/BENCHMARKS.md, profile).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SEALTRAIL_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .json()
        .init();
    let cli = sealtrail::cli::Cli::parse();
    match sealtrail::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
