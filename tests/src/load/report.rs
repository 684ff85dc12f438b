//! Number formatting for loadgen's one-line-per-figure output.

use std::time::Duration;

/// `1234567.8` → `"1,234,568"`.
pub fn count(value: f64) -> String {
    let rounded = value.round().max(0.0) as u64;
    let digits = rounded.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Microseconds as milliseconds with adaptive precision: `"0.42 ms"`, `"6.1 ms"`, `"120 ms"`.
pub fn ms(us: u64) -> String {
    let ms = us as f64 / 1000.0;
    if ms < 1.0 {
        format!("{ms:.2} ms")
    } else if ms < 100.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

/// A duration as seconds: `"2.43 s"`.
pub fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

/// KiB as MiB: `"61.2 MiB"`.
pub fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// `value / baseline` with two decimals, or `"n/a"` when the baseline is 0.
pub fn ratio(value: f64, baseline: f64) -> String {
    if baseline > 0.0 {
        format!("{:.2}", value / baseline)
    } else {
        "n/a".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_get_thousands_separators() {
        assert_eq!(count(0.0), "0");
        assert_eq!(count(999.4), "999");
        assert_eq!(count(1000.0), "1,000");
        assert_eq!(count(1_234_567.8), "1,234,568");
    }

    #[test]
    fn milliseconds_keep_two_significant_digits() {
        assert_eq!(ms(420), "0.42 ms");
        assert_eq!(ms(6_100), "6.1 ms");
        assert_eq!(ms(120_400), "120 ms");
    }
}
