//! Reading processes from `/proc` for the benchmarks: CPU time (utime +
//! stime, and the waited-for children's) and the children of a process.

use std::collections::HashMap;

/// Clock ticks per second of `/proc/PID/stat` times (`getconf CLK_TCK`:
/// 100 on every Linux this runs on).
const TICKS_PER_SEC: f64 = 100.0;

/// The fields after `(comm)` of `/proc/PID/stat` (comm may hold spaces).
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.get(stat.rfind(')')? + 1..)?;
    Some(after.split_whitespace().map(str::to_owned).collect())
}

/// utime + stime + cutime + cstime of `pid` in ticks (all its threads, and
/// children it has reaped), or `None` when it is gone.
pub fn cpu_ticks(pid: u32) -> Option<u64> {
    let f = stat_fields(pid)?;
    // After `)`: state(0) ppid(1) … utime(11) stime(12) cutime(13) cstime(14).
    let field = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok());
    Some(field(11)? + field(12)? + field(13)? + field(14)?)
}

/// The live children of `pid`.
pub fn children(pid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&p| {
            stat_fields(p)
                .and_then(|f| f.get(1).and_then(|v| v.parse::<u32>().ok()))
                .is_some_and(|ppid| ppid == pid)
        })
        .collect()
}

/// CPU ticks of a set of processes at one moment.
#[derive(Debug, Clone, Default)]
pub struct CpuSnapshot(HashMap<u32, u64>);

impl CpuSnapshot {
    /// Reads every pid of `pids` that still runs.
    pub fn take(pids: &[u32]) -> CpuSnapshot {
        CpuSnapshot(
            pids.iter()
                .filter_map(|&p| Some((p, cpu_ticks(p)?)))
                .collect(),
        )
    }

    /// CPU seconds spent between `self` and the later `end` (a process born
    /// in between counts from 0).
    pub fn seconds_until(&self, end: &CpuSnapshot) -> f64 {
        let ticks: u64 = end
            .0
            .iter()
            .map(|(pid, t)| t.saturating_sub(self.0.get(pid).copied().unwrap_or(0)))
            .sum();
        ticks as f64 / TICKS_PER_SEC
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_has_cpu_time_and_a_child_is_found() {
        let me = std::process::id();
        let start = CpuSnapshot::take(&[me]);
        // Burn at least 0.05 s of CPU.
        let t = std::time::Instant::now();
        let mut x = 0u64;
        while t.elapsed() < std::time::Duration::from_millis(200) {
            x = x.wrapping_mul(31).wrapping_add(7);
        }
        std::hint::black_box(x);
        let spent = start.seconds_until(&CpuSnapshot::take(&[me]));
        assert!(spent >= 0.05, "{spent} s");
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        assert!(children(me).contains(&child.id()));
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(cpu_ticks(child.id()), None);
    }
}
