//! The process's own figures under Prometheus's standard names (`process_cpu_seconds_total`,
//! `process_resident_memory_bytes`, `process_open_fds`), read from `/proc/self` on Linux at each
//! scrape; elsewhere, or when `/proc` cannot be read, they are left out.

/// One figure of the process, as the exposition writes it.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Figure {
    /// The standard metric name.
    pub name: &'static str,
    /// Its help text.
    pub help: &'static str,
    /// `counter` or `gauge`.
    pub kind: &'static str,
    /// The value now.
    pub value: f64,
}

/// The figures `/proc/self` gives now (none off Linux).
pub(super) fn figures() -> Vec<Figure> {
    #[cfg(target_os = "linux")]
    return from_proc();
    #[cfg(not(target_os = "linux"))]
    return Vec::new();
}

/// CPU time and resident memory from `/proc/self/stat`, descriptors from `/proc/self/fd`; each
/// left out when its file cannot be read.
#[cfg(target_os = "linux")]
fn from_proc() -> Vec<Figure> {
    let mut out = Vec::with_capacity(3);
    if let Some((cpu_seconds, resident_bytes)) = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| parse_stat(&stat, ticks_per_second(), page_size()))
    {
        out.push(Figure {
            name: "process_cpu_seconds_total",
            help: "Total user and system CPU time spent in seconds.",
            kind: "counter",
            value: cpu_seconds,
        });
        out.push(Figure {
            name: "process_resident_memory_bytes",
            help: "Resident memory size in bytes.",
            kind: "gauge",
            value: resident_bytes,
        });
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        out.push(Figure {
            name: "process_open_fds",
            help: "Number of open file descriptors.",
            kind: "gauge",
            value: fds.count() as f64,
        });
    }
    out
}

#[cfg(target_os = "linux")]
fn ticks_per_second() -> f64 {
    rustix::param::clock_ticks_per_second() as f64
}

#[cfg(target_os = "linux")]
fn page_size() -> f64 {
    rustix::param::page_size() as f64
}

/// CPU seconds (user + system) and resident bytes from the text of `/proc/<pid>/stat`: the fields
/// after the command name, which is in parentheses and may itself hold spaces and parentheses.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn parse_stat(stat: &str, ticks_per_second: f64, page_size: f64) -> Option<(f64, f64)> {
    let (_, after_name) = stat.rsplit_once(')')?;
    // Fields 3 (state) onwards: utime is field 14, stime 15, rss (pages) 24.
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
    let ticks = field(14)? + field(15)?;
    let pages = field(24)?;
    (ticks_per_second > 0.0).then(|| (ticks as f64 / ticks_per_second, pages as f64 * page_size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_read_after_the_command_name() {
        let stat = "14308 (a (b) c) R 14306 14306 9688 0 -1 4194304 103 0 0 0 250 130 0 0 20 0 \
                    1 0 224688 3133440 415 18446744073709551615 0";
        assert_eq!(parse_stat(stat, 100.0, 4096.0), Some((3.8, 415.0 * 4096.0)));
        assert_eq!(parse_stat("1 (x) R 2", 100.0, 4096.0), None, "cut short");
        assert_eq!(parse_stat("garbage", 100.0, 4096.0), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn on_linux_the_process_reports_cpu_memory_and_descriptors() {
        let figures = figures();
        let names: Vec<_> = figures.iter().map(|f| f.name).collect();
        assert_eq!(
            names,
            [
                "process_cpu_seconds_total",
                "process_resident_memory_bytes",
                "process_open_fds"
            ]
        );
        assert!(figures[0].value >= 0.0);
        assert!(figures[1].value > 1024.0 * 1024.0, "{:?}", figures[1]);
        assert!(
            figures[2].value >= 1.0,
            "the directory read, at least: {:?}",
            figures[2]
        );
    }
}
