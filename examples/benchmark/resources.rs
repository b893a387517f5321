//! CPU time (getrusage) and RSS (/proc/self/status) readings.

use std::time::Duration;

/// User and system CPU time.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuTime {
    pub user: Duration,
    pub sys: Duration,
}

impl CpuTime {
    /// The time spent from `earlier` to `self`.
    pub fn since(self, earlier: CpuTime) -> CpuTime {
        CpuTime {
            user: self.user.saturating_sub(earlier.user),
            sys: self.sys.saturating_sub(earlier.sys),
        }
    }
}

/// `getrusage(who)`'s user and system time (microsecond resolution).
fn rusage(who: libc::c_int) -> Option<CpuTime> {
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
    };
    // SAFETY: getrusage only writes the struct it is given, which is zeroed plain data.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(who, &mut ru) } != 0 {
        return None;
    }
    Some(CpuTime {
        user: tv(ru.ru_utime),
        sys: tv(ru.ru_stime),
    })
}

/// The whole process's CPU time.
pub fn process_cpu() -> Option<CpuTime> {
    rusage(libc::RUSAGE_SELF)
}

/// The calling thread's CPU time (Linux only).
#[cfg(target_os = "linux")]
pub fn thread_cpu() -> Option<CpuTime> {
    rusage(libc::RUSAGE_THREAD)
}

#[cfg(not(target_os = "linux"))]
pub fn thread_cpu() -> Option<CpuTime> {
    None
}

/// A `kB` field of `/proc/self/status`: `VmHWM` (peak RSS) or `VmRSS` (RSS now).
pub fn status_kb(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status
        .lines()
        .find(|l| l.strip_prefix(field).is_some_and(|r| r.starts_with(':')))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

pub fn max_rss_kb() -> Option<u64> {
    status_kb("VmHWM")
}

/// RSS after asking glibc to give its free memory back to the OS: what the
/// process really still holds once the load is over (glibc otherwise keeps
/// freed memory mapped for reuse, which RSS counts).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn trimmed_rss_kb() -> Option<u64> {
    unsafe extern "C" {
        fn malloc_trim(pad: usize) -> i32;
    }
    // SAFETY: glibc's malloc_trim has no preconditions; it only releases free memory.
    unsafe {
        malloc_trim(0);
    }
    status_kb("VmRSS")
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn trimmed_rss_kb() -> Option<u64> {
    None
}
