//! App and pod selectors used by waits and expectations.

use std::fmt;

use crate::podspec::SparkRole;
use crate::trace::PodView;

/// `*`-only glob (`etl-*`, `*-driver`).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || !text[first.len()..].ends_with(last) || text.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

/// Which apps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppSel {
    /// Every app the scenario creates.
    All,
    /// Name or `*` glob, matched against the name (or `namespace/name`).
    Pattern(String),
}

impl AppSel {
    /// From scenario text.
    pub fn parse(s: &str) -> AppSel {
        if s == "all" { AppSel::All } else { AppSel::Pattern(s.to_string()) }
    }

    /// Whether `app` (`namespace/name`) is selected.
    pub fn matches(&self, app: &str) -> bool {
        match self {
            AppSel::All => true,
            AppSel::Pattern(p) => {
                let name = app.rsplit('/').next().unwrap_or(app);
                glob_match(p, name) || glob_match(p, app)
            }
        }
    }
}

impl fmt::Display for AppSel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AppSel::All => f.write_str("all"),
            AppSel::Pattern(p) => f.write_str(p),
        }
    }
}

/// Which pods.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PodSel {
    /// Every pod.
    All,
    /// Spark drivers.
    Drivers,
    /// Spark executors.
    Executors,
    /// Drivers and executors.
    Spark,
    /// A platform component's pods.
    Component(String),
    /// A `*` glob over `namespace/name` or `name`.
    Pattern(String),
}

/// Platform components a pod selector can name.
pub const COMPONENTS: [&str; 6] =
    ["coredns", "spark-operator-controller", "spark-operator-webhook", "minio", "registry", "spark-history-server"];

impl PodSel {
    /// From scenario text.
    pub fn parse(s: &str) -> PodSel {
        match s {
            "all" => PodSel::All,
            "drivers" => PodSel::Drivers,
            "executors" => PodSel::Executors,
            "spark" => PodSel::Spark,
            c if COMPONENTS.contains(&c) => PodSel::Component(c.into()),
            p => PodSel::Pattern(p.into()),
        }
    }

    /// Whether the pod is selected.
    pub fn matches(&self, key: &str, pod: &PodView) -> bool {
        match self {
            PodSel::All => true,
            PodSel::Drivers => pod.role == Some(SparkRole::Driver),
            PodSel::Executors => pod.role == Some(SparkRole::Executor),
            PodSel::Spark => pod.role.is_some(),
            PodSel::Component(c) => pod.component.as_deref() == Some(c),
            PodSel::Pattern(p) => glob_match(p, key) || glob_match(p, key.rsplit('/').next().unwrap_or(key)),
        }
    }
}

impl fmt::Display for PodSel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PodSel::All => f.write_str("all"),
            PodSel::Drivers => f.write_str("driver"),
            PodSel::Executors => f.write_str("executor"),
            PodSel::Spark => f.write_str("spark"),
            PodSel::Component(c) | PodSel::Pattern(c) => f.write_str(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("etl-*", "etl-7"));
        assert!(glob_match("*-driver", "spark-pi-1-driver"));
        assert!(glob_match("a*b*c", "a-x-b-y-c"));
        assert!(!glob_match("a*b*c", "a-x-c"));
        assert!(!glob_match("ab*ba", "aba"));
        assert!(glob_match("exact", "exact") && !glob_match("exact", "exactly"));
    }

    #[test]
    fn app_selection_by_name_or_glob() {
        assert!(AppSel::parse("all").matches("default/x"));
        assert!(AppSel::parse("spark-pi-*").matches("default/spark-pi-3"));
        assert!(!AppSel::parse("spark-pi-*").matches("default/etl-1"));
        assert!(AppSel::parse("default/etl-1").matches("default/etl-1"));
    }
}
