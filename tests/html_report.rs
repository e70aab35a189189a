//! The HTML report (`--html`): one self-contained page whose timeline is drawn from the trace;
//! its structure checked against the trace, its size on the largest scenario, and its rendering
//! in a real browser (Debian's chromium, headless) where one is installed.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{run, scratch, variant};
use sparkrig_model::trace::{Event, Record};

fn records(trace: &Path) -> Vec<Record> {
    std::fs::read_to_string(trace).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// The value of `attr="..."` in the first tag of `html` that starts with `tag_start`.
fn attr<'a>(html: &'a str, tag_start: &str, attr: &str) -> &'a str {
    let tag = &html[html.find(tag_start).unwrap_or_else(|| panic!("no {tag_start}"))..];
    let tag = &tag[..tag.find('>').unwrap()];
    let key = format!(" {attr}=\"");
    let v = &tag[tag.find(&key).unwrap_or_else(|| panic!("no {attr} in {tag}")) + key.len()..];
    &v[..v.find('"').unwrap()]
}

fn num(s: &str) -> f64 {
    s.parse().unwrap_or_else(|_| panic!("not a number: {s}"))
}

#[test]
fn timeline_structure_follows_the_trace() {
    let dir = scratch("html-coredns");
    let (trace, page) = (dir.join("t.jsonl"), dir.join("r.html"));
    let (code, out, err) =
        run(&["run", "scenarios/coredns-outage.yaml", "--quiet", "--trace", trace.to_str().unwrap(), "--html", page.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let html = std::fs::read_to_string(&page).unwrap();
    let recs = records(&trace);

    // Self-contained: inline style and script, nothing fetched.
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("<style>") && html.contains("<script>"));
    for external in ["<link", " src=", "@import", "url(", "https://"] {
        assert!(!html.contains(external), "fetches something: {external}");
    }
    assert_eq!(html.matches("http://").count(), 1, "only the SVG namespace");
    assert!(html.contains("<svg class=\"timeline\""), "the timeline is an inline SVG");
    assert!(html.contains("id=\"verdict\">PASSED<"));

    // One Gantt bar per app the trace created, each named.
    let apps: Vec<&str> = recs
        .iter()
        .filter_map(|r| match &r.event {
            Event::AppCreated { app, .. } => Some(app.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(apps.len(), 3);
    assert_eq!(html.matches("<g class=\"app\"").count(), apps.len(), "one bar per app");
    for a in &apps {
        assert_eq!(html.matches(&format!("<g class=\"app\" data-app=\"{a}\"")).count(), 1, "{a}");
    }
    assert_eq!(attr(&html, "<svg class=\"timeline\"", "data-view"), "gantt");
    // Every state an app went through has a segment of its colour.
    assert!(html.contains("data-state=\"FAILING\"") && html.contains("data-state=\"COMPLETED\""), "reruns after the outage");

    // The fault's span starts and ends at its trace instants on the plot's time scale.
    let (left, width, end) = (
        num(attr(&html, "<svg class=\"timeline\"", "data-left")),
        num(attr(&html, "<svg class=\"timeline\"", "data-width")),
        num(attr(&html, "<svg class=\"timeline\"", "data-end-ms")),
    );
    assert_eq!(end, recs.last().unwrap().t.as_ms() as f64, "the axis ends with the trace");
    let at = |pred: &dyn Fn(&Event) -> bool| recs.iter().find(|r| pred(&r.event)).map(|r| r.t.as_ms() as f64).unwrap();
    let injected = at(&|e| matches!(e, Event::FaultInjected { fault, .. } if fault == "coredns-down"));
    let healed = at(&|e| matches!(e, Event::FaultHealed { fault, .. } if fault == "coredns-down"));
    assert!(injected > 0.0 && healed > injected);
    let span = "<rect class=\"fault\" data-fault=\"coredns-down\"";
    let (x, w) = (num(attr(&html, span, "x")), num(attr(&html, span, "width")));
    let expect_x = left + injected / end * width;
    let expect_w = (healed - injected) / end * width;
    assert!((x - expect_x).abs() <= 0.1, "fault starts at x={x}, expected {expect_x}");
    assert!((w - expect_w).abs() <= 0.2, "fault lasts {w}px, expected {expect_w}");
    assert_eq!(html.matches("<rect class=\"fault\"").count(), 1);

    // The steps, and nodes per nodegroup, are drawn.
    let steps = recs.iter().filter(|r| matches!(r.event, Event::StepStarted { .. })).count();
    assert_eq!(html.matches("<rect class=\"step ").count(), steps);
    for g in ["infra", "spark-driver", "spark-executor"] {
        assert!(html.contains(&format!("<path class=\"nodes\" data-group=\"{g}\"")), "{g}");
    }
    assert!(html.contains("<path class=\"pending\"") && html.contains("<path class=\"running\""));
    // The latency table.
    assert!(html.contains("<table class=\"latency\">") && html.contains("executor pod running"));
}

#[test]
fn failed_expectations_are_marked_at_their_instants_with_their_evidence() {
    let dir = scratch("html-failed");
    let path = variant(&dir, "smoke.yaml", |s| s.replace("- executors-only-on: spark-executor", "- executors-only-on: spark-driver"));
    let (page, json) = (dir.join("r.html"), dir.join("v.json"));
    let (code, ..) = run(&["run", path.to_str().unwrap(), "--quiet", "--html", page.to_str().unwrap(), "--json", json.to_str().unwrap()]);
    assert_eq!(code, 1);
    let html = std::fs::read_to_string(&page).unwrap();
    let verdict: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let failed = verdict["results"].as_array().unwrap().iter().find(|r| r["passed"] == false).unwrap();
    let evidence = failed["evidence"].as_array().unwrap();
    assert!(!evidence.is_empty());
    for e in evidence {
        let t = e["t"].as_u64().unwrap();
        assert!(
            html.contains(&format!("<g class=\"failure\" data-t-ms=\"{t}\" data-check=\"executors-only-on: spark-driver\"")),
            "marker at {t}"
        );
        assert!(html.contains(e["pod"].as_str().unwrap()), "evidence names the pod");
    }
    assert!(html.contains("id=\"verdict\">FAILED<"));
}

#[test]
fn a_saved_trace_gives_the_same_page() {
    let dir = scratch("html-reverdict");
    let (trace, live, replay) = (dir.join("t.jsonl"), dir.join("live.html"), dir.join("replay.html"));
    let (code, ..) =
        run(&["run", "scenarios/pod-kill.yaml", "--quiet", "--trace", trace.to_str().unwrap(), "--html", live.to_str().unwrap()]);
    assert_eq!(code, 0);
    let (code, ..) = run(&["verdict", trace.to_str().unwrap(), "scenarios/pod-kill.yaml", "--quiet", "--html", replay.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert_eq!(std::fs::read_to_string(live).unwrap(), std::fs::read_to_string(replay).unwrap());
}

#[test]
fn monday_morning_aggregates_and_stays_under_400_kb() {
    let dir = scratch("html-monday");
    let page = dir.join("r.html");
    let (code, out, err) = run(&["run", "scenarios/monday-morning.yaml", "--quiet", "--html", page.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.len() < 400 * 1024, "{} bytes", html.len());
    let apps: usize = attr(&html, "<svg class=\"timeline\"", "data-apps").parse().unwrap();
    assert!(apps > 900, "{apps}");
    assert_eq!(attr(&html, "<svg class=\"timeline\"", "data-view"), "states", "per-state counts instead of a bar per app");
    assert_eq!(html.matches("<g class=\"app\"").count(), 0);
    assert!(html.contains("<path class=\"state-band\" data-state=\"COMPLETED\""));
    // The autoscaler's growth of the executor group is visible: its line reaches ~290 nodes.
    assert!(html.contains("spark-executor (peak 2") || html.contains("spark-executor (peak 3"), "peak label");
    assert!(html.contains("class=\"as-up\"") && html.contains("class=\"as-down\""), "scale-up and scale-down marks");
}

/// Chromium as Debian ships it (`chromium`), or under other common names.
fn chromium() -> Option<String> {
    ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"]
        .into_iter()
        .find(|c| Command::new(c).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success()))
        .map(String::from)
}

/// Renders `page` headless into a PNG; returns its bytes.
fn screenshot(browser: &str, page: &Path, png: &Path, profile: &Path) -> Vec<u8> {
    let mut child = Command::new(browser)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run", "--window-size=1280,1400"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", page.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chromium starts");
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            let _ = std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err);
            assert!(status.success(), "chromium failed: {status}\n{err}");
            break;
        }
        if start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium took over 120 s to take a screenshot");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    std::fs::read(png).expect("chromium wrote the screenshot")
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(png: &[u8]) -> (u32, u32) {
    assert!(png.len() > 24 && png.starts_with(b"\x89PNG\r\n\x1a\n") && &png[12..16] == b"IHDR", "not a PNG");
    (u32::from_be_bytes(png[16..20].try_into().unwrap()), u32::from_be_bytes(png[20..24].try_into().unwrap()))
}

#[test]
fn a_headless_browser_renders_the_page() {
    let Some(browser) = chromium() else {
        println!("skipped: no chromium on PATH (tests/run.sh installs Debian's `chromium` with apt-get)");
        return;
    };
    let dir = scratch("html-browser");
    let page = dir.join("coredns-outage.html");
    let (code, ..) = run(&["run", "scenarios/coredns-outage.yaml", "--quiet", "--html", page.to_str().unwrap()]);
    assert_eq!(code, 0);
    let blank = dir.join("blank.html");
    std::fs::write(&blank, "<!DOCTYPE html><html><body></body></html>").unwrap();

    let shot = screenshot(&browser, &page, &dir.join("report.png"), &dir.join("profile-report"));
    let empty = screenshot(&browser, &blank, &dir.join("blank.png"), &dir.join("profile-blank"));
    assert_eq!(png_size(&shot), (1280, 1400), "the window's size");
    assert_eq!(png_size(&empty), (1280, 1400));
    // A rendered report (text, coloured bars, lines) compresses far worse than a white page.
    assert!(shot.len() > 20_000 && shot.len() > 5 * empty.len(), "screenshot {} bytes, blank page {} bytes", shot.len(), empty.len());
}
