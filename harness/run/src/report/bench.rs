//! `sparkrig bench` output: the figures table, throughput, the pending/nodes timeline, and the
//! comparison with a baseline.

use std::fmt::Write;

use sparkrig_model::time::{Dur, Time};

use super::terminal::{Style, fmt_dur};
use crate::bench::{BenchReport, Delta, RunFigures};
use crate::metrics::Figure;

/// Rows the timeline is thinned to.
const TIMELINE_ROWS: u64 = 24;

fn ms(v: Option<u64>) -> String {
    fmt_dur(v.map(Dur))
}

fn clock(t_ms: u64) -> String {
    let t = Time(t_ms).to_string();
    t.trim_start_matches("t=").to_string()
}

/// The benchmark as a table a person reads.
pub fn bench_table(r: &BenchReport, color: bool) -> String {
    let s = Style(color);
    let mut out = String::new();
    let seeds: Vec<String> = r.seeds.iter().map(u64::to_string).collect();
    let _ = writeln!(
        out,
        "{} {} on {}, {} seed(s) ({})",
        s.bold("sparkrig bench"),
        s.bold(&r.scenario),
        r.backend,
        r.seeds.len(),
        seeds.join(", ")
    );
    for run in &r.runs {
        // Below a few milliseconds the ratio is timer noise.
        let speed = if run.wall_ms >= 5.0 { format!(", {:.0}x real time", run.duration_ms as f64 / run.wall_ms) } else { String::new() };
        let _ = writeln!(
            out,
            "  seed {}: {} apps ({} completed), {} pods, {} of cluster time in {:.3}s wall{speed}{}",
            run.seed,
            run.apps,
            run.apps_completed,
            run.pods,
            Dur(run.duration_ms),
            run.wall_ms / 1000.0,
            if run.passed { String::new() } else { s.bad(&format!("; expectations failed: {}", run.failed_checks.join("; "))) }
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "  {:<26} {:>9} {:>9} {:>9} {:>9} {:>7}", "latency (pooled)", "p50", "p90", "p99", "max", "n");
    for f in Figure::ALL {
        let st = r.figures.get(&f).copied().unwrap_or_default();
        let _ = writeln!(
            out,
            "  {:<26} {:>9} {:>9} {:>9} {:>9} {:>7}",
            f.label(),
            ms(st.p50_ms),
            ms(st.p90_ms),
            ms(st.p99_ms),
            ms(st.max_ms),
            st.count
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "  throughput: {:.2} completed apps per minute (mean over seeds)", r.apps_per_minute);
    if let Some(run) = r.runs.first() {
        let peaks: Vec<String> = run.peak_nodes.iter().map(|(g, n)| format!("{g} {n}")).collect();
        let _ = writeln!(
            out,
            "  peak pending pods: {} at {}; peak nodes: {}",
            run.peak_pending_pods,
            clock(run.peak_pending_at_ms),
            peaks.join(", ")
        );
        if !run.upgrade_ms.is_empty() {
            let ups: Vec<String> = run.upgrade_ms.iter().map(|(id, ms)| format!("{id} {}", Dur(*ms))).collect();
            let _ = writeln!(out, "  upgrades completed in: {}", ups.join(", "));
        }
        let _ = writeln!(out);
        timeline(&mut out, run);
        quotas(&mut out, run);
    }
    out
}

/// ResourceQuota usage: peak (and when) and at the end, against hard, per namespace.
fn quotas(out: &mut String, run: &RunFigures) {
    use sparkrig_model::tenancy::{QuotaResource, format_quantity};
    if run.quotas.is_empty() {
        return;
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "  {:<28} {:<16} {:>10} {:>10} {:>10} {:>9}   (seed {})",
        "quota usage", "resource", "peak", "at", "end", "hard", run.seed
    );
    for (name, q) in &run.quotas {
        for (r, hard) in &q.hard {
            let fmt = |v: i64| QuotaResource::parse(r).map_or(v.to_string(), |x| format_quantity(x.unit(), v));
            let peak = q.peak.get(r).copied().unwrap_or(0);
            let at = q.peak_at_ms.get(r).map_or("-".to_string(), |t| clock(*t));
            let end = q.end.get(r).copied().unwrap_or(0);
            let _ = writeln!(out, "  {name:<28} {r:<16} {:>10} {at:>10} {:>10} {:>9}", fmt(peak), fmt(end), fmt(*hard));
        }
    }
}

/// Pending pods and nodes per group, thinned to about [`TIMELINE_ROWS`] rows.
fn timeline(out: &mut String, run: &RunFigures) {
    let Some(last) = run.timeline.last() else { return };
    let minutes = last.t_ms / 60_000 + 1;
    let step = [1, 2, 5, 10, 15, 30, 60, 120, 240].into_iter().find(|s| minutes.div_ceil(*s) <= TIMELINE_ROWS).unwrap_or(480);
    let groups: Vec<&String> = run.peak_nodes.keys().collect();
    let mut header = format!("  {:>8} {:>8}", "time", "pending");
    for g in &groups {
        let _ = write!(header, " {:>w$}", g, w = g.len().max(5));
    }
    let _ = writeln!(out, "{header}   (seed {}, every {step}m)", run.seed);
    for sample in run.timeline.iter().filter(|x| (x.t_ms / 60_000) % step == 0) {
        let mut line = format!("  {:>8} {:>8}", clock(sample.t_ms), sample.pending_pods);
        for g in &groups {
            let _ = write!(line, " {:>w$}", sample.nodes.get(*g).copied().unwrap_or(0), w = g.len().max(5));
        }
        let _ = writeln!(out, "{line}");
    }
}

fn value(d: &Delta, v: f64) -> String {
    if d.unit == "ms" { Dur(v.round() as u64).to_string() } else { format!("{v:.2} {}", d.unit) }
}

/// Deltas against a baseline; regressions are marked.
pub fn bench_comparison(deltas: &[Delta], current: &BenchReport, baseline: &BenchReport, threshold_pct: f64, color: bool) -> String {
    let s = Style(color);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {} (seeds {:?}) against baseline {} (seeds {:?}), threshold {threshold_pct}%",
        s.bold("compare"),
        current.scenario,
        current.seeds,
        baseline.scenario,
        baseline.seeds
    );
    let _ = writeln!(out, "  {:<32} {:>14} {:>14} {:>9}", "figure", "baseline", "this run", "change");
    for d in deltas {
        let change = d.change_pct().map_or("from 0".into(), |p| format!("{p:+.1}%"));
        let mark = if d.regression {
            s.bad("REGRESSION")
        } else if d.improvement {
            s.ok("better")
        } else {
            String::new()
        };
        let _ = writeln!(out, "  {:<32} {:>14} {:>14} {:>9}  {mark}", d.name, value(d, d.baseline), value(d, d.current), change);
    }
    let n = deltas.iter().filter(|d| d.regression).count();
    let _ = writeln!(out);
    let line = if n == 0 {
        s.ok(&format!("no regression beyond {threshold_pct}%"))
    } else {
        s.bad(&format!("{n} figure(s) regressed beyond {threshold_pct}%"))
    };
    let _ = writeln!(out, "{line}");
    out
}
