//! What the harness reads from the operating system: CPU time of the
//! process and of the load generator's threads, peak memory, and the
//! machine line every figure is published with.
//!
//! The server runs in the harness's own process, so "server CPU" is the
//! process's CPU time minus that of the load generator's threads, which
//! all carry the name [`LOAD_THREAD`]. Dead threads keep counting in the
//! process total, and the load generator's threads live as long as the
//! run, so the subtraction stays exact.

use std::path::Path;
use std::time::Duration;

/// Name of every thread of the load generator's runtime.
pub const LOAD_THREAD: &str = "bench-load";

/// Linux reports CPU times in `USER_HZ` ticks, which is 100 on every
/// mainstream architecture (the kernel ABI fixes it, whatever `CONFIG_HZ`).
const TICKS_PER_SEC: f64 = 100.0;

/// (utime + stime) of a `stat` line, and the thread name in it.
fn parse_stat(s: &str) -> Option<(String, u64)> {
    let open = s.find('(')?;
    let close = s.rfind(')')?;
    let comm = s.get(open + 1..close)?.to_string();
    let rest: Vec<&str> = s.get(close + 1..)?.split_whitespace().collect();
    // After the command come the fields from `state` (field 3) on; utime
    // and stime are fields 14 and 15.
    let utime: u64 = rest.get(11)?.parse().ok()?;
    let stime: u64 = rest.get(12)?.parse().ok()?;
    Some((comm, utime + stime))
}

/// CPU time used so far, split into the whole process and the load
/// generator's threads.
#[derive(Clone, Copy, Debug, Default)]
pub struct CpuSnap {
    process: u64,
    load: u64,
}

impl CpuSnap {
    /// Reads the counters now.
    pub fn now() -> CpuSnap {
        let process = std::fs::read_to_string("/proc/self/stat")
            .ok()
            .and_then(|s| parse_stat(&s))
            .map(|(_, t)| t)
            .unwrap_or(0);
        let mut load = 0;
        if let Ok(dir) = std::fs::read_dir("/proc/self/task") {
            for t in dir.flatten() {
                if let Ok(s) = std::fs::read_to_string(t.path().join("stat"))
                    && let Some((comm, ticks)) = parse_stat(&s)
                    && comm.starts_with(LOAD_THREAD)
                {
                    load += ticks;
                }
            }
        }
        CpuSnap { process, load }
    }

    /// (server, load generator) CPU time since `earlier`.
    pub fn since(&self, earlier: &CpuSnap) -> (Duration, Duration) {
        let total = self.process.saturating_sub(earlier.process);
        let load = self.load.saturating_sub(earlier.load).min(total);
        (
            Duration::from_secs_f64((total - load) as f64 / TICKS_PER_SEC),
            Duration::from_secs_f64(load as f64 / TICKS_PER_SEC),
        )
    }
}

/// Peak resident memory of the process (VmHWM), in bytes.
pub fn peak_rss_bytes() -> Option<u64> {
    status_kib("VmHWM:").map(|k| k * 1024)
}

fn status_kib(key: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with(key))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The machine a run happened on.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Machine {
    /// CPU model name.
    pub cpu: String,
    /// Cores available to the process.
    pub cores: usize,
    /// Total memory, GiB.
    pub memory_gib: f64,
    /// Kernel release.
    pub kernel: String,
    /// `rustc -V`.
    pub rustc: String,
    /// When the run started (UTC).
    pub date: String,
    /// `git rev-parse --short HEAD`, with `-dirty` when the tree has changes.
    pub commit: String,
    /// Load average (1 min) when the run started: a busy machine shows here.
    pub load_at_start: String,
}

fn command_line(cmd: &str, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new(cmd).args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Describes this machine.
pub fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kib: u64 = meminfo
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let commit = match command_line("git", &["rev-parse", "--short", "HEAD"]) {
        Some(c) => {
            let dirty = command_line("git", &["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            if dirty { format!("{c}-dirty") } else { c }
        }
        None => "unknown".into(),
    };
    Machine {
        cpu,
        cores: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        memory_gib: mem_kib as f64 / (1024.0 * 1024.0),
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_else(|_| "unknown".into()),
        rustc: command_line("rustc", &["-V"]).unwrap_or_else(|| "unknown".into()),
        date: jiff::Timestamp::now()
            .strftime("%Y-%m-%d %H:%M UTC")
            .to_string(),
        commit,
        load_at_start: std::fs::read_to_string("/proc/loadavg")
            .ok()
            .and_then(|s| s.split_whitespace().next().map(str::to_string))
            .unwrap_or_else(|| "?".into()),
    }
}

/// Total size of a SQLite database with its WAL and shared-memory files.
pub fn db_bytes(path: &Path) -> u64 {
    ["", "-wal", "-shm"]
        .iter()
        .map(|suffix| {
            let mut p = path.as_os_str().to_owned();
            p.push(suffix);
            std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0)
        })
        .sum()
}

/// The `p`-th percentile (0..=1) of samples, by nearest rank.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// p50 and p99 of samples (any order), in the samples' unit.
pub fn p50_p99(samples: &mut [f64]) -> (f64, f64) {
    samples.sort_by(f64::total_cmp);
    (percentile(samples, 0.50), percentile(samples, 0.99))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_parse_even_with_odd_names() {
        let line = "123 (bench-load (x)) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0";
        assert_eq!(parse_stat(line), Some(("bench-load (x)".into(), 300)));
        assert!(CpuSnap::now().process > 0 || cfg!(not(target_os = "linux")));
    }

    #[test]
    fn percentiles_by_nearest_rank() {
        let mut v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(p50_p99(&mut v), (50.0, 99.0));
        assert!(percentile(&[], 0.5).is_nan());
    }
}
