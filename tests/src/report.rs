//! Result lines of a suite run and the final summary line.

use std::time::Duration;

/// What happened to one scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every step succeeded.
    Pass(Duration),
    /// A step failed (the reason names the line).
    Fail(String),
    /// Not run (e.g. needs a restart the runner cannot do).
    Skip(String),
}

/// The line printed for one scenario: `PASS name (12 ms)`, `FAIL name: why`,
/// `SKIP name: why`.
pub fn line(name: &str, outcome: &Outcome) -> String {
    match outcome {
        Outcome::Pass(d) => format!("PASS {name} ({} ms)", d.as_millis()),
        Outcome::Fail(why) => format!("FAIL {name}: {why}"),
        Outcome::Skip(why) => format!("SKIP {name}: {why}"),
    }
}

/// Outcomes of a whole run, in the order they finished.
#[derive(Debug, Default, Clone)]
pub struct Report {
    /// `(scenario name, outcome)`.
    pub results: Vec<(String, Outcome)>,
}

impl Report {
    /// Number of failed scenarios.
    pub fn failed(&self) -> usize {
        self.count(|o| matches!(o, Outcome::Fail(_)))
    }

    fn count(&self, f: impl Fn(&Outcome) -> bool) -> usize {
        self.results.iter().filter(|(_, o)| f(o)).count()
    }

    /// `N passed, N failed` plus `, N skipped` when some were skipped.
    pub fn summary(&self) -> String {
        let passed = self.count(|o| matches!(o, Outcome::Pass(_)));
        let skipped = self.count(|o| matches!(o, Outcome::Skip(_)));
        let mut s = format!("{passed} passed, {} failed", self.failed());
        if skipped > 0 {
            s.push_str(&format!(", {skipped} skipped"));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_summary() {
        let mut r = Report::default();
        r.results
            .push(("a".into(), Outcome::Pass(Duration::from_millis(12))));
        r.results
            .push(("b".into(), Outcome::Fail("line 3: boom".into())));
        assert_eq!(line("a", &r.results[0].1), "PASS a (12 ms)");
        assert_eq!(line("b", &r.results[1].1), "FAIL b: line 3: boom");
        assert_eq!(r.summary(), "1 passed, 1 failed");
        r.results
            .push(("c".into(), Outcome::Skip("needs restart".into())));
        assert_eq!(line("c", &r.results[2].1), "SKIP c: needs restart");
        assert_eq!(r.summary(), "1 passed, 1 failed, 1 skipped");
    }
}
