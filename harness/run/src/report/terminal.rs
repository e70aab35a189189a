//! The terminal summary.

use std::fmt::Write;

use owo_colors::OwoColorize;
use sparkrig_model::time::Dur;

use crate::metrics::Figure;
use crate::verdict::{Evidence, Verdict};

/// Colours when enabled.
pub(super) struct Style(pub(super) bool);

impl Style {
    pub(super) fn ok(&self, s: &str) -> String {
        if self.0 { s.green().to_string() } else { s.to_string() }
    }
    pub(super) fn bad(&self, s: &str) -> String {
        if self.0 { s.red().bold().to_string() } else { s.to_string() }
    }
    pub(super) fn dim(&self, s: &str) -> String {
        if self.0 { s.dimmed().to_string() } else { s.to_string() }
    }
    pub(super) fn bold(&self, s: &str) -> String {
        if self.0 { s.bold().to_string() } else { s.to_string() }
    }
}

pub(super) fn fmt_dur(d: Option<Dur>) -> String {
    d.map_or("-".into(), |d| d.to_string())
}

/// One evidence item on one line: when, who, what.
pub fn evidence_line(e: &Evidence) -> String {
    let mut who = Vec::new();
    if let Some(p) = &e.pod {
        who.push(format!("pod {p}"));
    } else if let Some(a) = &e.app {
        who.push(format!("app {a}"));
    }
    if let Some(n) = &e.node {
        who.push(format!("node {n}"));
    }
    let when = e.t.map_or(String::new(), |t| format!("{t} "));
    if who.is_empty() { format!("{when}{}", e.detail) } else { format!("{when}{}: {}", who.join(", "), e.detail) }
}

/// Renders the verdict for a terminal (`color` on a tty).
pub fn terminal(v: &Verdict, color: bool) -> String {
    let s = Style(color);
    let mut out = String::new();
    let seed = v.seed.map_or(String::new(), |s| format!(", seed {s}"));
    let _ = writeln!(
        out,
        "{} {} on {}{seed}: {} of scenario time ({})",
        s.bold("sparkrig"),
        s.bold(&v.scenario),
        v.backend,
        v.metrics.duration,
        v.ended
    );
    let apps: Vec<String> = v.metrics.apps_by_state.iter().map(|(k, n)| format!("{n} {k}")).collect();
    let _ = writeln!(
        out,
        "apps: {}   pods: {}   nodes: {}",
        if apps.is_empty() { "none".into() } else { apps.join(", ") },
        v.metrics.pods_created,
        v.metrics.nodes_added
    );
    let _ = writeln!(out);
    let width = v.results.iter().map(|r| r.name.len()).max().unwrap_or(10).min(60);
    for r in &v.results {
        let mark = if r.passed { s.ok("✓") } else { s.bad("✗") };
        let _ = writeln!(out, "  {mark} {:<width$}  {}", r.name, if r.passed { r.message.clone() } else { s.bad(&r.message) });
        let show = if r.passed { r.evidence.len().min(1) } else { r.evidence.len() };
        for e in r.evidence.iter().take(show) {
            let _ = writeln!(out, "      {}", s.dim(&evidence_line(e)));
        }
        if !r.passed && r.more > 0 {
            let _ = writeln!(out, "      {}", s.dim(&format!("... and {} more", r.more)));
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "  {:<24} {:>9} {:>9} {:>9} {:>9} {:>6}", "latency", "p50", "p90", "p99", "max", "n");
    for f in Figure::ALL {
        let m = v.metrics.get(f);
        let _ = writeln!(
            out,
            "  {:<24} {:>9} {:>9} {:>9} {:>9} {:>6}",
            f.label(),
            fmt_dur(m.p50),
            fmt_dur(m.p90),
            fmt_dur(m.p99),
            fmt_dur(m.max),
            m.count
        );
    }
    let _ = writeln!(out);
    let failed = v.results.iter().filter(|r| !r.passed).count();
    let line = if v.passed {
        s.ok(&format!("PASSED: all {} checks held", v.results.len()))
    } else {
        s.bad(&format!("FAILED: {failed} of {} checks did not hold", v.results.len()))
    };
    let _ = writeln!(out, "{line}");
    out
}
