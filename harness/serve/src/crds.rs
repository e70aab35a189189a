//! The Spark Operator's CRDs as the v2.5.2 chart installs them (vendored in fixtures/crds), with
//! the status the API server gives an accepted CRD: kube-rs's `conditions::is_crd_established`
//! waits for `Established=True` (reference/kube-api.md §5.1).

use std::sync::OnceLock;

use serde_json::{Value, json};

const SPARK_APPLICATIONS: &str = include_str!("../../../fixtures/crds/v2.5.2/sparkoperator.k8s.io_sparkapplications.yaml");
const SCHEDULED: &str = include_str!("../../../fixtures/crds/v2.5.2/sparkoperator.k8s.io_scheduledsparkapplications.yaml");

fn established(text: &str) -> Value {
    let mut crd: Value = serde_yaml::from_str(text).expect("vendored CRDs are valid YAML");
    let names = crd["spec"]["names"].clone();
    crd["status"] = json!({
        "acceptedNames": names,
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found"},
            {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted"},
        ],
        "storedVersions": ["v1beta2"],
    });
    crd
}

/// Both CRDs, established.
pub fn definitions() -> Vec<Value> {
    static CRDS: OnceLock<Vec<Value>> = OnceLock::new();
    CRDS.get_or_init(|| vec![established(SPARK_APPLICATIONS), established(SCHEDULED)]).clone()
}

/// A printer column of a CRD version: name, type, JSON path.
pub type Column = (String, String, String);

/// The `additionalPrinterColumns` of the CRD of `plural` (empty when it defines none).
pub fn printer_columns(plural: &str) -> Vec<Column> {
    definitions()
        .iter()
        .find(|c| c["spec"]["names"]["plural"] == plural)
        .and_then(|c| c["spec"]["versions"][0]["additionalPrinterColumns"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .map(|c| {
            let s = |k: &str| c[k].as_str().unwrap_or_default().to_string();
            (s("name"), s("type"), s("jsonPath"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparkapplication_columns_come_from_the_chart_crd() {
        let names: Vec<String> = printer_columns("sparkapplications").into_iter().map(|c| c.0).collect();
        assert_eq!(names, ["Suspend", "Status", "Attempts", "Start", "Finish", "Age"]);
        let crds = definitions();
        assert_eq!(crds[0]["status"]["conditions"][1]["type"], "Established");
        assert_eq!(crds[0]["metadata"]["name"], "sparkapplications.sparkoperator.k8s.io");
    }
}
