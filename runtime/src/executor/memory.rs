//! A job's peak resident memory, as the kernel counts it (Linux `VmHWM`), recorded in `done.json` beside its
//! time, so that a user sees what a job needed — and a test can show that evaluation memory does not grow with the
//! test views. Jobs run one after another in a process, so the mark reset at a job's start measures that job.

/// Starts measuring: resets the process's peak-RSS mark to its current RSS (Linux ≥ 4.0: writing `5` to
/// `/proc/self/clear_refs`). False where that is not possible; the peak then covers the whole process so far.
pub fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The peak resident set size since the last [`reset_peak`] (or since the process started), in bytes; None
/// where the kernel does not report it.
pub fn peak_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The peak since `reset` in MiB (one decimal), or None when the mark could not be reset (the number would then
/// cover earlier jobs too) or is not reported.
pub fn peak_mib(reset: bool) -> Option<f64> {
    let bytes = peak_bytes().filter(|_| reset)?;
    Some((bytes as f64 / f64::from(1u32 << 20) * 10.0).round() / 10.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peak_covers_an_allocation_and_resets() {
        if peak_bytes().is_none() {
            return; // not Linux: nothing to measure
        }
        let before = peak_bytes().unwrap_or(0);
        let block = vec![1u8; 64 << 20];
        std::hint::black_box(&block);
        let during = peak_bytes().unwrap_or(0);
        assert!(during >= before + (48 << 20), "{before} → {during}");
        drop(block);
        if reset_peak() {
            let after = peak_bytes().unwrap_or(u64::MAX);
            assert!(
                after < during,
                "the reset left the peak at {after} (was {during})"
            );
        }
    }
}
