//! The HTML report: one self-contained page (inline CSS, SVG and a few lines of script; nothing
//! is fetched) with the verdict and a timeline of the run.
//!
//! Entry points: [`Timeline`], a trace [`Sink`] that keeps what the page draws (nodes per
//! nodegroup, pending and running pods, every app's state history, faults, steps, autoscaler
//! decisions), and [`html`], which renders it next to a [`Verdict`]. The timeline reads nothing
//! but the trace, so a saved trace gives the same page (`sparkrig verdict --html`).
//!
//! Large runs stay small: above [`GANTT_MAX_APPS`] apps the Gantt chart becomes per-state
//! counts over time, and every series is thinned to at most [`MAX_COLUMNS`] columns, keeping
//! each column's peak so that no spike disappears.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;

use sparkrig_model::appstate::{ALL_STATES, AppState};
use sparkrig_model::time::{Dur, Time};
use sparkrig_model::trace::{Event, Record, Sink};

use super::terminal::fmt_dur;
use crate::metrics::Figure;
use crate::verdict::{Evidence, Verdict};

/// Above this many apps the Gantt chart (one bar per app) becomes per-state counts over time.
pub const GANTT_MAX_APPS: usize = 150;
/// Series are thinned to at most this many columns.
pub const MAX_COLUMNS: usize = 500;
/// Autoscaler decisions drawn one by one up to this many; beyond, one tick per column.
const MAX_AUTOSCALER_MARKS: usize = 120;

/// Width of the timeline SVG (its `viewBox`), and the plot area inside it.
const WIDTH: f64 = 1200.0;
/// Left edge of the plot (lane labels go left of it).
pub const PLOT_LEFT: f64 = 190.0;
/// Width of the plot.
pub const PLOT_WIDTH: f64 = WIDTH - PLOT_LEFT - 20.0;

/// What the page draws, folded from the trace.
#[derive(Debug, Default)]
pub struct Timeline {
    end: Time,
    /// Change points of existing nodes per group.
    groups: BTreeMap<String, Vec<(Time, u32)>>,
    node_group: HashMap<String, String>,
    /// Change points of (pending, running) pods.
    pods: Vec<(Time, u32, u32)>,
    pod_phase: HashMap<String, PodState>,
    pending: u32,
    running: u32,
    apps: BTreeMap<String, AppTrack>,
    rejected: Vec<(Time, String, String)>,
    faults: Vec<Span>,
    steps: Vec<Span>,
    autoscaler: Vec<(Time, String, String, u32, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PodState {
    Pending,
    Running,
    Done,
}

#[derive(Debug, Default)]
struct AppTrack {
    history: Vec<(Time, AppState)>,
    deleted: Option<Time>,
}

/// A fault (inject → heal) or a step (start → end).
#[derive(Debug, Clone)]
struct Span {
    id: String,
    label: String,
    start: Time,
    end: Option<Time>,
    ok: bool,
}

impl Timeline {
    /// An empty timeline; feed it the trace.
    pub fn new() -> Timeline {
        Timeline::default()
    }

    /// Apps the trace created (one Gantt bar each when there are few enough).
    pub fn app_count(&self) -> usize {
        self.apps.len()
    }

    fn set_pod(&mut self, t: Time, pod: &str, state: Option<PodState>) {
        let before = match state {
            Some(s) => self.pod_phase.insert(pod.to_string(), s),
            None => self.pod_phase.remove(pod),
        };
        for (s, delta) in [(before, -1i64), (state, 1)] {
            match s {
                Some(PodState::Pending) => self.pending = (i64::from(self.pending) + delta).max(0) as u32,
                Some(PodState::Running) => self.running = (i64::from(self.running) + delta).max(0) as u32,
                _ => {}
            }
        }
        let point = (t, self.pending, self.running);
        match self.pods.last_mut() {
            Some(last) if last.0 == t => *last = point,
            Some(last) if (last.1, last.2) == (point.1, point.2) => {}
            _ => self.pods.push(point),
        }
    }

    fn set_nodes(&mut self, t: Time, group: &str, delta: i64) {
        let series = self.groups.entry(group.to_string()).or_default();
        let now = series.last().map_or(0, |p| p.1);
        let next = (i64::from(now) + delta).max(0) as u32;
        match series.last_mut() {
            Some(last) if last.0 == t => last.1 = next,
            _ => series.push((t, next)),
        }
    }
}

impl Sink for Timeline {
    fn record(&mut self, rec: &Record) {
        let t = rec.t;
        self.end = self.end.max(t);
        match &rec.event {
            Event::NodeAdded { node, group, .. } => {
                self.node_group.insert(node.clone(), group.clone());
                self.set_nodes(t, group, 1);
            }
            Event::NodeRemoved { node, .. } => {
                if let Some(g) = self.node_group.remove(node) {
                    self.set_nodes(t, &g, -1);
                }
            }
            Event::PodCreated { pod, .. } => self.set_pod(t, pod, Some(PodState::Pending)),
            Event::PodRunning { pod } if self.pod_phase.contains_key(pod) => self.set_pod(t, pod, Some(PodState::Running)),
            Event::PodTerminated { pod, .. } if self.pod_phase.contains_key(pod) => self.set_pod(t, pod, Some(PodState::Done)),
            Event::PodDeleted { pod, .. } => self.set_pod(t, pod, None),
            Event::AppCreated { app, .. } => {
                self.apps.insert(app.clone(), AppTrack { history: vec![(t, AppState::New)], deleted: None });
            }
            Event::AppState { app, state, .. } => {
                if let Some(a) = self.apps.get_mut(app)
                    && a.history.last().map(|h| h.1) != Some(*state)
                {
                    a.history.push((t, *state));
                }
            }
            Event::AppDeleted { app } => {
                if let Some(a) = self.apps.get_mut(app) {
                    a.deleted = Some(t);
                }
            }
            Event::AppRejected { app, message } => self.rejected.push((t, app.clone(), message.clone())),
            Event::FaultInjected { fault, target } => {
                self.faults.push(Span { id: fault.clone(), label: format!("{fault}: {target}"), start: t, end: None, ok: true })
            }
            Event::FaultHealed { fault, .. } => {
                if let Some(s) = self.faults.iter_mut().rev().find(|s| s.id == *fault && s.end.is_none()) {
                    s.end = Some(t);
                }
            }
            Event::StepStarted { step, what } => {
                self.steps.push(Span { id: step.to_string(), label: format!("step {}: {what}", step + 1), start: t, end: None, ok: true })
            }
            Event::StepEnded { step, ok, message } => {
                let id = step.to_string();
                if let Some(s) = self.steps.iter_mut().rev().find(|s| s.id == id && s.end.is_none()) {
                    s.end = Some(t);
                    s.ok = *ok;
                    if !message.is_empty() {
                        s.label = format!("{} ({message})", s.label);
                    }
                }
            }
            Event::Autoscaler { action, group, count, reason } if action == "scale-up" || action == "scale-down" => {
                self.autoscaler.push((t, action.clone(), group.clone(), *count, reason.clone()))
            }
            _ => {}
        }
    }
}

/// Escapes text for HTML content and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A coordinate with at most one decimal.
fn n(x: f64) -> String {
    let r = (x * 10.0).round() / 10.0;
    if r == r.trunc() { format!("{}", r as i64) } else { format!("{r:.1}") }
}

/// The colour of an app state (a legend is drawn with the chart).
pub fn state_color(s: AppState) -> &'static str {
    match s {
        AppState::New => "#bdbdbd",
        AppState::Submitted => "#90caf9",
        AppState::Running => "#1e88e5",
        AppState::Succeeding => "#81c784",
        AppState::Completed => "#2e7d32",
        AppState::Failing => "#ffa726",
        AppState::Failed => "#c62828",
        AppState::SubmissionFailed => "#e57373",
        AppState::PendingRerun => "#ab47bc",
        AppState::Invalidating => "#8d6e63",
        AppState::Suspending => "#b0bec5",
        AppState::Suspended => "#78909c",
        AppState::Resuming => "#4dd0e1",
        AppState::Unknown => "#fdd835",
    }
}

const GROUP_COLORS: [&str; 8] = ["#1565c0", "#ef6c00", "#2e7d32", "#6a1b9a", "#00838f", "#ad1457", "#5d4037", "#455a64"];

fn clock(t: Time) -> String {
    t.to_string().trim_start_matches("t=").to_string()
}

fn evidence_text(e: &Evidence) -> String {
    let mut who = Vec::new();
    if let Some(p) = &e.pod {
        who.push(format!("pod {p}"));
    } else if let Some(a) = &e.app {
        who.push(format!("app {a}"));
    }
    if let Some(nd) = &e.node {
        who.push(format!("node {nd}"));
    }
    if who.is_empty() { e.detail.clone() } else { format!("{}: {}", who.join(", "), e.detail) }
}

/// Maps time to x.
#[derive(Clone, Copy)]
struct Scale {
    end_ms: f64,
}

impl Scale {
    fn x(self, t: Time) -> f64 {
        PLOT_LEFT + (t.as_ms() as f64 / self.end_ms).min(1.0) * PLOT_WIDTH
    }
    /// The instants that bound `cols` equal columns.
    fn column_edges(self, cols: usize) -> Vec<Time> {
        (0..=cols).map(|i| Time((self.end_ms * i as f64 / cols as f64).round() as u64)).collect()
    }
}

/// A step function (change points, value holds until the next) resampled to at most
/// [`MAX_COLUMNS`] columns, each the peak over its column; exact when it has few points.
fn thin(points: &[(Time, u32)], scale: Scale) -> Vec<(Time, u32)> {
    if points.len() <= MAX_COLUMNS {
        return points.to_vec();
    }
    let edges = scale.column_edges(MAX_COLUMNS);
    let mut out = Vec::with_capacity(MAX_COLUMNS);
    let mut i = 0;
    let mut carry = 0;
    for w in edges.windows(2) {
        let mut peak = carry;
        while i < points.len() && points[i].0 < w[1] {
            carry = points[i].1;
            peak = peak.max(carry);
            i += 1;
        }
        out.push((w[0], peak));
    }
    out
}

/// An SVG path for a step function, baseline at `y0`, `h` pixels for `max`.
fn step_path(points: &[(Time, u32)], scale: Scale, y0: f64, h: f64, max: u32, end: Time, area: bool) -> String {
    let y = |v: u32| y0 - f64::from(v) / f64::from(max.max(1)) * h;
    let mut d = String::new();
    let first_x = points.first().map_or(PLOT_LEFT, |p| scale.x(p.0));
    if area {
        let _ = write!(d, "M{} {}", n(first_x), n(y0));
    }
    let mut prev: Option<u32> = None;
    for (k, (t, v)) in points.iter().enumerate() {
        let x = n(scale.x(*t));
        match prev {
            None if !area => {
                let _ = write!(d, "M{x} {}", n(y(*v)));
            }
            None => {
                let _ = write!(d, "L{x} {}", n(y(*v)));
            }
            Some(p) => {
                let _ = write!(d, "L{x} {}L{x} {}", n(y(p)), n(y(*v)));
            }
        }
        prev = Some(*v);
        if k + 1 == points.len() {
            let _ = write!(d, "L{} {}", n(scale.x(end)), n(y(*v)));
        }
    }
    if area && prev.is_some() {
        let _ = write!(d, "L{} {}Z", n(scale.x(end)), n(y0));
    }
    d
}

/// Renders the page for a verdict and the timeline of the same run.
pub fn html(v: &Verdict, tl: &Timeline) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let title = format!("sparkrig {}: {}", v.scenario, if v.passed { "PASSED" } else { "FAILED" });
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>{}</title><style>{CSS}</style></head><body>\n",
        esc(&title)
    );
    header(&mut out, v);
    checks(&mut out, v);
    let _ = writeln!(out, "<h2>Timeline</h2>");
    timeline_svg(&mut out, v, tl);
    latency(&mut out, v);
    let _ = write!(out, "<script>{JS}</script>\n</body></html>\n");
    out
}

fn header(out: &mut String, v: &Verdict) {
    let failed = v.results.iter().filter(|r| !r.passed).count();
    let (class, word) = if v.passed { ("pass", "PASSED") } else { ("fail", "FAILED") };
    let seed = v.seed.map_or(String::new(), |s| format!(", seed {s}"));
    let _ = writeln!(
        out,
        "<header><h1><span class=\"badge {class}\" id=\"verdict\">{word}</span> {}</h1>\
         <p>on {}{seed}: {} of scenario time ({})</p>",
        esc(&v.scenario),
        esc(&v.backend),
        v.metrics.duration,
        esc(&v.ended)
    );
    let apps: Vec<String> = v.metrics.apps_by_state.iter().map(|(k, c)| format!("{c} {k}")).collect();
    let _ = writeln!(
        out,
        "<p>apps: {} &middot; pods: {} &middot; nodes: {} &middot; {}</p></header>",
        if apps.is_empty() { "none".into() } else { esc(&apps.join(", ")) },
        v.metrics.pods_created,
        v.metrics.nodes_added,
        if v.passed {
            format!("all {} checks held", v.results.len())
        } else {
            format!("{failed} of {} checks did not hold", v.results.len())
        }
    );
}

fn checks(out: &mut String, v: &Verdict) {
    let _ = writeln!(out, "<h2>Checks</h2><table class=\"checks\"><tbody>");
    let mut marker = 0;
    for r in &v.results {
        let (class, mark) = if r.passed { ("pass", "&#10003;") } else { ("fail", "&#10007;") };
        let _ = write!(
            out,
            "<tr class=\"check {class}\"><td class=\"mark\">{mark}</td><td><b>{}</b> <span class=\"kind\">{}</span><div>{}</div>",
            esc(&r.name),
            esc(&r.kind),
            esc(&r.message)
        );
        let show = if r.passed { r.evidence.len().min(1) } else { r.evidence.len() };
        if show > 0 {
            let _ = write!(out, "<ul class=\"evidence\">");
            for e in r.evidence.iter().take(show) {
                let id = if !r.passed && e.t.is_some() {
                    marker += 1;
                    format!(" id=\"ev{marker}\"")
                } else {
                    String::new()
                };
                let when = e.t.map_or(String::new(), |t| format!("<span class=\"t\">{}</span> ", clock(t)));
                let _ = write!(out, "<li{id}>{when}{}</li>", esc(&evidence_text(e)));
            }
            if !r.passed && r.more > 0 {
                let _ = write!(out, "<li>... and {} more</li>", r.more);
            }
            let _ = write!(out, "</ul>");
        }
        let _ = writeln!(out, "</td></tr>");
    }
    let _ = writeln!(out, "</tbody></table>");
}

fn latency(out: &mut String, v: &Verdict) {
    let _ = writeln!(
        out,
        "<h2>Latency</h2><table class=\"latency\"><thead><tr><th>figure</th><th>p50</th><th>p90</th><th>p99</th><th>max</th><th>n</th></tr></thead><tbody>"
    );
    for f in Figure::ALL {
        let m = v.metrics.get(f);
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            f.label(),
            fmt_dur(m.p50),
            fmt_dur(m.p90),
            fmt_dur(m.p99),
            fmt_dur(m.max),
            m.count
        );
    }
    let _ = writeln!(out, "</tbody></table>");
}

/// Lane geometry: top, height.
struct Lane {
    top: f64,
    height: f64,
}

fn lane_label(svg: &mut String, lane: &Lane, text: &str, sub: &str) {
    let _ = write!(
        svg,
        "<text class=\"lane\" x=\"8\" y=\"{}\">{}</text><text class=\"sub\" x=\"8\" y=\"{}\">{}</text>",
        n(lane.top + 12.0),
        esc(text),
        n(lane.top + 25.0),
        esc(sub)
    );
}

fn timeline_svg(out: &mut String, v: &Verdict, tl: &Timeline) {
    let end = tl.end.max(Time(v.metrics.duration.as_ms())).max(Time(1));
    let scale = Scale { end_ms: end.as_ms() as f64 };
    let mut svg = String::with_capacity(32 * 1024);
    let mut y = 30.0;

    // Steps and faults: one row for the steps, one per fault.
    let steps = Lane { top: y, height: 16.0 };
    y += 22.0;
    let fault_rows: Vec<&Span> = tl.faults.iter().collect();
    let faults = Lane { top: y, height: 16.0 * fault_rows.len() as f64 };
    y += faults.height + if fault_rows.is_empty() { 0.0 } else { 10.0 };

    let nodes = Lane { top: y + 8.0, height: 150.0 };
    y = nodes.top + nodes.height + 16.0;
    let pods = Lane { top: y, height: 110.0 };
    y = pods.top + pods.height + 16.0;
    let gantt = tl.apps.len() <= GANTT_MAX_APPS;
    let row_h = if tl.apps.len() <= 40 { 14.0 } else { (560.0 / tl.apps.len() as f64).clamp(4.0, 14.0) };
    let rejected_rows = if gantt { tl.rejected.len() } else { 0 };
    let apps_h = if gantt { ((tl.apps.len() + rejected_rows) as f64 * row_h).max(20.0) } else { 200.0 };
    let apps = Lane { top: y, height: apps_h };
    y = apps.top + apps.height + 24.0;
    let total_h = y;
    let plot_bottom = apps.top + apps.height;

    // Time axis.
    axis(&mut svg, scale, end, 22.0, plot_bottom);

    // Fault bands behind everything, then the spans.
    for f in &fault_rows {
        let (x0, x1) = (scale.x(f.start), scale.x(f.end.unwrap_or(end)));
        let _ = write!(
            svg,
            "<rect class=\"fault-band\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/>",
            n(x0),
            n(steps.top),
            n((x1 - x0).max(1.0)),
            n(plot_bottom - steps.top)
        );
    }
    lane_label(&mut svg, &steps, "steps", "");
    for (i, s) in tl.steps.iter().enumerate() {
        let (x0, x1) = (scale.x(s.start), scale.x(s.end.unwrap_or(end)));
        let class = if s.ok { if i % 2 == 0 { "step even" } else { "step odd" } } else { "step failed" };
        let _ = write!(
            svg,
            "<rect class=\"{class}\" data-step=\"{}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"><title>{} ({} → {})</title></rect>",
            i + 1,
            n(x0),
            n(steps.top),
            n((x1 - x0).max(1.5)),
            n(steps.height),
            esc(&s.label),
            clock(s.start),
            s.end.map_or("end".into(), clock)
        );
    }
    if !fault_rows.is_empty() {
        lane_label(&mut svg, &Lane { top: faults.top, height: 0.0 }, "faults", "");
    }
    for (i, f) in fault_rows.iter().enumerate() {
        let (x0, x1) = (scale.x(f.start), scale.x(f.end.unwrap_or(end)));
        let top = faults.top + 16.0 * i as f64;
        let _ = write!(
            svg,
            "<rect class=\"fault\" data-fault=\"{}\" data-start-ms=\"{}\" data-end-ms=\"{}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"13\"><title>{} ({} → {})</title></rect>\
             <text class=\"fault-label\" x=\"{}\" y=\"{}\">{}</text>",
            esc(&f.id),
            f.start.as_ms(),
            f.end.map_or(String::new(), |t| t.as_ms().to_string()),
            n(x0),
            n(top),
            n((x1 - x0).max(1.5)),
            esc(&f.label),
            clock(f.start),
            f.end.map_or("end (not healed)".into(), clock),
            n(x0 + 3.0),
            n(top + 10.0),
            esc(&f.id)
        );
    }

    nodes_lane(&mut svg, tl, scale, end, &nodes);
    pods_lane(&mut svg, tl, scale, end, &pods);
    if gantt {
        gantt_lane(&mut svg, tl, scale, end, &apps, row_h);
    } else {
        states_lane(&mut svg, tl, scale, end, &apps);
    }
    failure_marks(&mut svg, v, scale, steps.top, plot_bottom);
    // The cursor the script moves.
    let _ = write!(
        svg,
        "<g id=\"cursor\" style=\"display:none\"><line x1=\"0\" x2=\"0\" y1=\"{}\" y2=\"{}\"/><text id=\"cursor-t\" x=\"4\" y=\"{}\"></text></g>",
        n(steps.top),
        n(plot_bottom),
        n(total_h - 6.0)
    );

    let _ = write!(
        out,
        "<div class=\"chart\"><svg class=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {} {}\" width=\"{}\" height=\"{}\" \
         data-left=\"{}\" data-width=\"{}\" data-end-ms=\"{}\" data-apps=\"{}\" data-view=\"{}\">",
        n(WIDTH),
        n(total_h),
        n(WIDTH),
        n(total_h),
        n(PLOT_LEFT),
        n(PLOT_WIDTH),
        end.as_ms(),
        tl.apps.len(),
        if gantt { "gantt" } else { "states" }
    );
    out.push_str(&svg);
    let _ = writeln!(out, "</svg></div>");
    legend(out, tl, gantt);
}

fn axis(svg: &mut String, scale: Scale, end: Time, y: f64, bottom: f64) {
    let span = end.as_ms();
    let step = [1_000, 5_000, 10_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000, 3_600_000, 7_200_000, 14_400_000]
        .into_iter()
        .find(|s| span / s <= 12)
        .unwrap_or(28_800_000);
    let mut t = 0;
    while t <= span {
        let x = n(scale.x(Time(t)));
        let _ = write!(
            svg,
            "<line class=\"grid\" x1=\"{x}\" x2=\"{x}\" y1=\"{}\" y2=\"{}\"/><text class=\"tick\" x=\"{x}\" y=\"{}\">{}</text>",
            n(y + 4.0),
            n(bottom),
            n(y - 6.0),
            if t == 0 { "0".to_string() } else { Dur(t).to_string() }
        );
        t += step;
    }
}

/// The lane's baseline across the plot; its y.
fn base_line(svg: &mut String, lane: &Lane) -> f64 {
    let base = lane.top + lane.height;
    let _ = write!(
        svg,
        "<line class=\"base\" x1=\"{}\" x2=\"{}\" y1=\"{}\" y2=\"{}\"/>",
        n(PLOT_LEFT),
        n(PLOT_LEFT + PLOT_WIDTH),
        n(base),
        n(base)
    );
    base
}

fn nodes_lane(svg: &mut String, tl: &Timeline, scale: Scale, end: Time, lane: &Lane) {
    let max = tl.groups.values().flat_map(|s| s.iter().map(|p| p.1)).max().unwrap_or(0).max(1);
    lane_label(svg, lane, "nodes per group", &format!("0 – {max}"));
    let base = base_line(svg, lane);
    for (i, (g, series)) in tl.groups.iter().enumerate() {
        let color = GROUP_COLORS[i % GROUP_COLORS.len()];
        let peak = series.iter().map(|p| p.1).max().unwrap_or(0);
        let pts = thin(series, scale);
        let _ = write!(
            svg,
            "<path class=\"nodes\" data-group=\"{}\" stroke=\"{color}\" d=\"{}\"><title>{}: peak {peak} node(s), {} at the end</title></path>",
            esc(g),
            step_path(&pts, scale, base, lane.height - 4.0, max, end, false),
            esc(g),
            series.last().map_or(0, |p| p.1)
        );
        let _ = write!(
            svg,
            "<text class=\"key\" x=\"8\" y=\"{}\" style=\"fill:{color}\">&#9632; {} (peak {peak})</text>",
            n(lane.top + 42.0 + 13.0 * i as f64),
            esc(g)
        );
    }
    // Autoscaler decisions: a triangle per scale-up (▲) or scale-down (▼) at the lane's top.
    let marks: Vec<&(Time, String, String, u32, String)> = tl.autoscaler.iter().collect();
    if marks.len() <= MAX_AUTOSCALER_MARKS {
        for (t, action, group, count, reason) in marks {
            let x = scale.x(*t);
            let (shape, class) = if action == "scale-up" {
                (format!("M{} {}l-4 7h8z", n(x), n(lane.top)), "as-up")
            } else {
                (format!("M{} {}l-4 -7h8z", n(x), n(lane.top + 7.0)), "as-down")
            };
            let _ = write!(
                svg,
                "<path class=\"{class}\" d=\"{shape}\"><title>{} autoscaler {action} {group} by {count}: {}</title></path>",
                clock(*t),
                esc(reason)
            );
        }
    } else {
        // One tick per column that saw decisions, with the count.
        let edges = scale.column_edges(MAX_COLUMNS);
        let mut i = 0;
        for w in edges.windows(2) {
            let (mut up, mut down) = (0u32, 0u32);
            while i < marks.len() && marks[i].0 < w[1] {
                if marks[i].1 == "scale-up" {
                    up += marks[i].3;
                } else {
                    down += marks[i].3;
                }
                i += 1;
            }
            let x = n(scale.x(w[0]));
            if up > 0 {
                let _ = write!(svg, "<path class=\"as-up\" d=\"M{x} {}l-3 6h6z\"><title>+{up}</title></path>", n(lane.top));
            }
            if down > 0 {
                let _ = write!(svg, "<path class=\"as-down\" d=\"M{x} {}l-3 -6h6z\"><title>-{down}</title></path>", n(lane.top + 7.0));
            }
        }
    }
}

fn pods_lane(svg: &mut String, tl: &Timeline, scale: Scale, end: Time, lane: &Lane) {
    let pending: Vec<(Time, u32)> = tl.pods.iter().map(|p| (p.0, p.1)).collect();
    let running: Vec<(Time, u32)> = tl.pods.iter().map(|p| (p.0, p.2)).collect();
    let peak_pending = pending.iter().map(|p| p.1).max().unwrap_or(0);
    let peak_running = running.iter().map(|p| p.1).max().unwrap_or(0);
    let max = peak_pending.max(peak_running).max(1);
    lane_label(svg, lane, "pods", &format!("0 – {max}"));
    let base = base_line(svg, lane);
    for (class, series, peak, y_key) in [("running", &running, peak_running, 42.0), ("pending", &pending, peak_pending, 55.0)] {
        let pts = thin(series, scale);
        let _ = write!(
            svg,
            "<path class=\"{class}\" d=\"{}\"><title>{class} pods: peak {peak}</title></path>\
             <text class=\"key {class}\" x=\"8\" y=\"{}\">&#9632; {class} (peak {peak})</text>",
            step_path(&pts, scale, base, lane.height - 4.0, max, end, true),
            n(lane.top + y_key)
        );
    }
}

/// The app's segments: (from, to, state); a terminal last state is a short cap.
fn segments(a: &AppTrack, end: Time) -> Vec<(Time, Time, AppState)> {
    let stop = a.deleted.unwrap_or(end);
    let mut out = Vec::new();
    for (i, (t, s)) in a.history.iter().enumerate() {
        let next = a.history.get(i + 1).map_or(stop, |h| h.0);
        out.push((*t, next.max(*t), *s));
    }
    out
}

fn gantt_lane(svg: &mut String, tl: &Timeline, scale: Scale, end: Time, lane: &Lane, row_h: f64) {
    lane_label(svg, lane, "apps", &format!("{} (one bar each)", tl.apps.len()));
    let label_apps = row_h >= 10.0;
    for (i, (name, a)) in tl.apps.iter().enumerate() {
        let top = lane.top + row_h * i as f64;
        let h = (row_h - 2.0).max(2.0);
        let last = a.history.last().map(|h| h.1);
        let path: Vec<String> = a.history.iter().map(|(t, s)| format!("{} {s}", clock(*t))).collect();
        let _ = write!(svg, "<g class=\"app\" data-app=\"{}\"><title>{}: {}</title>", esc(name), esc(name), esc(&path.join(" → ")));
        if label_apps {
            let short = name.rsplit('/').next().unwrap_or(name);
            let _ = write!(svg, "<text class=\"app-name\" x=\"{}\" y=\"{}\">{}</text>", n(PLOT_LEFT - 4.0), n(top + h - 1.0), esc(short));
        }
        for (t0, t1, s) in segments(a, end) {
            let terminal = Some(s) == last && matches!(s, AppState::Completed | AppState::Failed) && a.deleted.is_none();
            let x0 = scale.x(t0);
            let w = if terminal { 3.0 } else { (scale.x(t1) - x0).max(0.8) };
            let _ = write!(
                svg,
                "<rect class=\"seg\" data-state=\"{s}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"/>",
                n(x0),
                n(top),
                n(w),
                n(h),
                state_color(s)
            );
        }
        let _ = write!(svg, "</g>");
    }
    for (j, (t, app, message)) in tl.rejected.iter().enumerate() {
        let top = lane.top + row_h * (tl.apps.len() + j) as f64;
        let x = scale.x(*t);
        let short = app.rsplit('/').next().unwrap_or(app);
        let _ = write!(
            svg,
            "<g class=\"rejected\" data-app=\"{}\"><title>{} rejected at {}: {}</title>",
            esc(app),
            esc(app),
            clock(*t),
            esc(message)
        );
        if label_apps {
            let _ =
                write!(svg, "<text class=\"app-name\" x=\"{}\" y=\"{}\">{}</text>", n(PLOT_LEFT - 4.0), n(top + row_h - 3.0), esc(short));
        }
        let _ = write!(svg, "<text class=\"rej\" x=\"{}\" y=\"{}\">&#10007; rejected</text></g>", n(x), n(top + row_h - 3.0));
    }
}

/// Apps per state over time, stacked, one column per [`MAX_COLUMNS`]th of the run.
fn states_lane(svg: &mut String, tl: &Timeline, scale: Scale, end: Time, lane: &Lane) {
    lane_label(svg, lane, "apps per state", &format!("{} apps, stacked", tl.apps.len()));
    let cols = MAX_COLUMNS;
    let edges = scale.column_edges(cols);
    // counts[col][state]
    let mut counts = vec![[0u32; ALL_STATES.len()]; cols];
    let idx = |s: AppState| ALL_STATES.iter().position(|x| *x == s).unwrap_or(0);
    for a in tl.apps.values() {
        let segs = segments(a, end);
        let mut k = 0;
        for (c, w) in edges.windows(2).enumerate() {
            // The state at the column's middle.
            let mid = Time((w[0].as_ms() + w[1].as_ms()) / 2);
            if mid < a.history[0].0 || a.deleted.is_some_and(|d| mid >= d) {
                continue;
            }
            while k + 1 < segs.len() && segs[k + 1].0 <= mid {
                k += 1;
            }
            counts[c][idx(segs[k].2)] += 1;
        }
    }
    let max = counts.iter().map(|c| c.iter().sum::<u32>()).max().unwrap_or(0).max(1);
    let base = lane.top + lane.height;
    let col_w = PLOT_WIDTH / cols as f64;
    let mut below = vec![0u32; cols];
    for (si, s) in ALL_STATES.iter().enumerate() {
        if counts.iter().all(|c| c[si] == 0) {
            continue;
        }
        // One path per state: its band's top edge left to right, then the bottom edge back.
        let y = |v: u32| base - f64::from(v) / f64::from(max) * (lane.height - 4.0);
        let mut d = String::new();
        for c in 0..cols {
            let x0 = PLOT_LEFT + col_w * c as f64;
            let top = y(below[c] + counts[c][si]);
            let _ = write!(d, "{}{} {}H{}", if c == 0 { "M" } else { "L" }, n(x0), n(top), n(x0 + col_w));
        }
        for c in (0..cols).rev() {
            let x1 = PLOT_LEFT + col_w * (c + 1) as f64;
            let _ = write!(d, "L{} {}H{}", n(x1), n(y(below[c])), n(x1 - col_w));
        }
        d.push('Z');
        let peak = counts.iter().map(|c| c[si]).max().unwrap_or(0);
        let _ = write!(
            svg,
            "<path class=\"state-band\" data-state=\"{s}\" fill=\"{}\" d=\"{d}\"><title>{s}: up to {peak} app(s) at once</title></path>",
            state_color(*s)
        );
        for c in 0..cols {
            below[c] += counts[c][si];
        }
    }
}

fn failure_marks(svg: &mut String, v: &Verdict, scale: Scale, top: f64, bottom: f64) {
    let mut marker = 0;
    for r in v.results.iter().filter(|r| !r.passed) {
        for e in &r.evidence {
            let Some(t) = e.t else { continue };
            marker += 1;
            let x = n(scale.x(t));
            let _ = write!(
                svg,
                "<a href=\"#ev{marker}\"><g class=\"failure\" data-t-ms=\"{}\" data-check=\"{}\"><title>&#10007; {} at {}: {}</title>\
                 <line x1=\"{x}\" x2=\"{x}\" y1=\"{}\" y2=\"{}\"/><circle cx=\"{x}\" cy=\"{}\" r=\"5\"/></g></a>",
                t.as_ms(),
                esc(&r.name),
                esc(&r.name),
                clock(t),
                esc(&evidence_text(e)),
                n(top),
                n(bottom),
                n(top - 2.0)
            );
        }
    }
}

fn legend(out: &mut String, tl: &Timeline, gantt: bool) {
    let mut seen: Vec<AppState> = tl.apps.values().flat_map(|a| a.history.iter().map(|h| h.1)).collect();
    seen.sort();
    seen.dedup();
    let _ = write!(out, "<p class=\"legend\">app states: ");
    for s in seen {
        let _ = write!(out, "<span><i style=\"background:{}\"></i>{s}</span> ", state_color(s));
    }
    let _ = writeln!(
        out,
        "&middot; <span><i class=\"fault-key\"></i>fault active</span> <span><i class=\"step-key\"></i>step</span> \
         <span class=\"fail-key\">&#9679;</span> failed expectation (at its instant) &middot; &#9650;/&#9660; autoscaler scale-up/down{}</p>",
        if gantt { "" } else { " &middot; more than 150 apps: apps per state over time instead of one bar each" }
    );
}

const CSS: &str = "body{font:14px/1.4 system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px;color:#212121;max-width:1240px}\
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:22px 0 8px}header p{margin:2px 0;color:#424242}\
.badge{display:inline-block;padding:2px 10px;border-radius:4px;color:#fff;font-size:16px;vertical-align:2px}\
.badge.pass{background:#2e7d32}.badge.fail{background:#c62828}\
table{border-collapse:collapse}td,th{padding:4px 8px;vertical-align:top;text-align:left}\
.checks tr{border-bottom:1px solid #eee}.check .mark{font-weight:bold;font-size:16px}\
.check.pass .mark{color:#2e7d32}.check.fail .mark{color:#c62828}.check.fail b{color:#c62828}\
.kind{color:#757575;font-size:12px}.evidence{margin:2px 0 0;padding-left:18px;color:#555;font-size:13px}\
.evidence .t{font-family:ui-monospace,monospace;color:#333}.check.fail .evidence li:target{background:#ffebee}\
.latency td:not(:first-child),.latency th:not(:first-child){text-align:right;font-variant-numeric:tabular-nums}\
.latency tbody tr:nth-child(odd){background:#fafafa}\
.chart{overflow-x:auto;border:1px solid #e0e0e0;border-radius:4px}svg.timeline{display:block;font-size:11px}\
svg .grid{stroke:#eee}svg .base{stroke:#bdbdbd}svg .tick{fill:#757575;text-anchor:middle}\
svg .lane{font-weight:bold;fill:#333}svg .sub,svg .key{fill:#757575}svg .key{font-size:10.5px}\
svg .step{stroke:#fff;stroke-width:1}svg .step.even{fill:#cfd8dc}svg .step.odd{fill:#b0bec5}svg .step.failed{fill:#ef9a9a;stroke:#c62828}\
svg .fault{fill:#e53935;opacity:.85}svg .fault-band{fill:#e53935;opacity:.07}svg .fault-label{fill:#fff;font-size:10px;pointer-events:none}\
svg .nodes{fill:none;stroke-width:1.6}svg path.running{fill:#43a047;fill-opacity:.35;stroke:#2e7d32}\
svg path.pending{fill:#fb8c00;fill-opacity:.45;stroke:#ef6c00}svg .key.running{fill:#2e7d32}svg .key.pending{fill:#ef6c00}\
svg .as-up{fill:#1565c0}svg .as-down{fill:#8d6e63}svg .app-name{text-anchor:end;fill:#424242;font-size:10px}\
svg .rej{fill:#c62828;font-size:10px}svg .app:hover rect{stroke:#000;stroke-width:.6}\
svg .failure line{stroke:#c62828;stroke-width:1.2;stroke-dasharray:4 3}svg .failure circle{fill:#c62828}\
svg #cursor line{stroke:#000;stroke-opacity:.4}svg #cursor text{fill:#000}\
.legend{font-size:12px;color:#555}.legend i{display:inline-block;width:10px;height:10px;margin-right:3px;vertical-align:-1px}\
.legend .fault-key{background:#e53935;opacity:.6}.legend .step-key{background:#b0bec5}.legend .fail-key{color:#c62828}";

const JS: &str = "(function(){var s=document.querySelector('svg.timeline');if(!s)return;\
var l=+s.dataset.left,w=+s.dataset.width,e=+s.dataset.endMs,c=document.getElementById('cursor'),t=document.getElementById('cursor-t');\
function f(ms){var x=Math.round(ms/1000),h=Math.floor(x/3600),m=Math.floor(x/60)%60,z=x%60;return h+':'+(m<10?'0':'')+m+':'+(z<10?'0':'')+z}\
s.addEventListener('mousemove',function(v){var r=s.getBoundingClientRect(),x=(v.clientX-r.left)*s.viewBox.baseVal.width/r.width;\
if(x<l||x>l+w){c.style.display='none';return}c.style.display='';c.setAttribute('transform','translate('+x+',0)');t.textContent=f((x-l)/w*e)});\
s.addEventListener('mouseleave',function(){c.style.display='none'})})();";

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(t: u64, event: Event) -> Record {
        Record { t: Time(t), event }
    }

    #[test]
    fn thinning_keeps_each_columns_peak() {
        let scale = Scale { end_ms: 10_000.0 };
        // A spike of one millisecond among 2,000 change points survives thinning.
        let mut pts: Vec<(Time, u32)> = (0..2000).map(|i| (Time(i * 5), 1)).collect();
        pts[1234].1 = 99;
        let thinned = thin(&pts, scale);
        assert_eq!(thinned.len(), MAX_COLUMNS);
        assert_eq!(thinned.iter().map(|p| p.1).max(), Some(99));
        assert_eq!(thin(&pts[..10], scale), pts[..10].to_vec());
    }

    #[test]
    fn timeline_counts_pods_nodes_and_spans() {
        let mut tl = Timeline::new();
        for r in [
            rec(
                0,
                Event::NodeAdded {
                    node: "n1".into(),
                    group: "g".into(),
                    interruptible: false,
                    labels: Default::default(),
                    taints: vec![],
                    cpu_millis: 1,
                    memory_bytes: 1,
                    pods: 1,
                    kubelet_version: None,
                },
            ),
            rec(
                1,
                Event::PodCreated {
                    pod: "d/p".into(),
                    app: None,
                    role: None,
                    component: None,
                    node_selector: Default::default(),
                    tolerations: vec![],
                    cpu_millis: 1,
                    memory_bytes: 1,
                    priority: 0,
                },
            ),
            rec(5, Event::FaultInjected { fault: "coredns-down".into(), target: "coredns".into() }),
            rec(7, Event::PodRunning { pod: "d/p".into() }),
            rec(9, Event::FaultHealed { fault: "coredns-down".into(), target: "coredns".into() }),
            rec(10, Event::PodDeleted { pod: "d/p".into(), reason: "x".into() }),
            rec(12, Event::NodeRemoved { node: "n1".into(), reason: "x".into() }),
        ] {
            tl.record(&r);
        }
        assert_eq!(tl.pods, vec![(Time(1), 1, 0), (Time(7), 0, 1), (Time(10), 0, 0)]);
        assert_eq!(tl.groups["g"], vec![(Time(0), 1), (Time(12), 0)]);
        assert_eq!((tl.faults[0].start, tl.faults[0].end), (Time(5), Some(Time(9))));
        assert_eq!(tl.end, Time(12));
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(esc("<a href=\"x\">&'</a>"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
    }
}
