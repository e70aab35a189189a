//! The kubeconfig a client uses to reach the server (reference/kube-api.md §6): cluster,
//! user and context named `sparkrig-<scenario>`, a token (kube-rs and fabric8 send it; kubectl
//! sends none over plain http), and the server's certificate with `--tls`. An existing file is
//! merged into, and only sparkrig's entries are removed when the server stops; a file sparkrig
//! created is deleted.

use std::path::Path;

use serde_yaml::{Mapping, Value};

use crate::Error;

/// A self-signed certificate and its key.
#[derive(Clone)]
pub struct Cert {
    /// PEM certificate.
    pub cert_pem: String,
    /// PEM private key.
    pub key_pem: String,
}

/// A certificate for `host`, `localhost` and 127.0.0.1.
pub fn self_signed(host: &str) -> std::io::Result<Cert> {
    let mut names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    if !names.iter().any(|n| n == host) {
        names.push(host.to_string());
    }
    let key = rcgen::generate_simple_self_signed(names).map_err(std::io::Error::other)?;
    Ok(Cert { cert_pem: key.cert.pem(), key_pem: key.signing_key.serialize_pem() })
}

/// What writing did, to undo it.
pub enum Written {
    /// sparkrig created the file.
    Created,
    /// sparkrig added its entries (this context) to an existing file.
    Merged(String),
}

fn named(name: &str, key: &str, body: Value) -> Value {
    let mut m = Mapping::new();
    m.insert("name".into(), name.into());
    m.insert(key.into(), body);
    Value::Mapping(m)
}

fn yaml(s: &str) -> Value {
    serde_yaml::from_str(s).expect("literal YAML")
}

/// Writes (or merges) the kubeconfig for `context` at `url`.
pub fn write(path: &Path, context: &str, url: &str, ca_pem: Option<&str>) -> Result<Written, Error> {
    let existing = std::fs::read_to_string(path).ok();
    let mut doc: Value = match &existing {
        Some(text) => serde_yaml::from_str(text)
            .map_err(|e| Error::Kubeconfig(format!("{}: not a kubeconfig ({e}); pass --kubeconfig elsewhere", path.display())))?,
        None => yaml("apiVersion: v1\nkind: Config\nclusters: []\nusers: []\ncontexts: []\npreferences: {}\n"),
    };
    let mut cluster = Mapping::new();
    cluster.insert("server".into(), url.into());
    if let Some(pem) = ca_pem {
        cluster.insert("certificate-authority-data".into(), base64_encode(pem.as_bytes()).into());
    }
    let entries = [
        ("clusters", named(context, "cluster", Value::Mapping(cluster))),
        ("users", named(context, "user", yaml("token: sparkrig"))),
        ("contexts", named(context, "context", yaml(&format!("cluster: {context}\nuser: {context}\nnamespace: default")))),
    ];
    for (list, entry) in entries {
        let items = doc[list].as_sequence_mut().ok_or_else(|| Error::Kubeconfig(format!("{}: `{list}` is not a list", path.display())))?;
        items.retain(|e| e["name"].as_str() != Some(context));
        items.push(entry);
    }
    doc["current-context"] = context.into();
    let text = serde_yaml::to_string(&doc).map_err(|e| Error::Kubeconfig(e.to_string()))?;
    std::fs::write(path, text).map_err(|e| Error::Io { what: format!("cannot write kubeconfig {}", path.display()), source: e })?;
    Ok(if existing.is_some() { Written::Merged(context.to_string()) } else { Written::Created })
}

impl Written {
    /// Removes what [`write`] added (best effort: the server is stopping).
    pub fn undo(&self, path: &Path) {
        match self {
            Written::Created => {
                let _ = std::fs::remove_file(path);
            }
            Written::Merged(context) => {
                let Ok(text) = std::fs::read_to_string(path) else { return };
                let Ok(mut doc) = serde_yaml::from_str::<Value>(&text) else { return };
                for list in ["clusters", "users", "contexts"] {
                    if let Some(items) = doc[list].as_sequence_mut() {
                        items.retain(|e| e["name"].as_str() != Some(context));
                    }
                }
                if doc["current-context"].as_str() == Some(context) {
                    doc["current-context"] = "".into();
                }
                if let Ok(text) = serde_yaml::to_string(&doc) {
                    let _ = std::fs::write(path, text);
                }
            }
        }
    }
}

fn base64_encode(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_existing_kubeconfig_keeps_its_entries_and_gets_them_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(&path, "apiVersion: v1\nkind: Config\nclusters: [{name: prod, cluster: {server: 'https://prod'}}]\nusers: [{name: prod, user: {}}]\ncontexts: [{name: prod, context: {cluster: prod, user: prod}}]\ncurrent-context: prod\n").unwrap();
        let w = write(&path, "sparkrig-smoke", "http://127.0.0.1:1234", None).unwrap();
        let doc: Value = serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(doc["current-context"], "sparkrig-smoke");
        assert_eq!(doc["clusters"].as_sequence().unwrap().len(), 2);
        w.undo(&path);
        let doc: Value = serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(doc["clusters"].as_sequence().unwrap().len(), 1);
        assert_eq!(doc["clusters"][0]["name"], "prod");
        let fresh = dir.path().join("new");
        write(&fresh, "sparkrig-x", "http://127.0.0.1:1", Some("PEM")).unwrap().undo(&fresh);
        assert!(!fresh.exists(), "a file sparkrig created is removed");
    }

    #[test]
    fn base64_matches_the_standard_alphabet() {
        assert_eq!(base64_encode(b"sparkrig"), "c3BhcmtyaWc=");
        assert_eq!(base64_encode(b"ab"), "YWI=");
    }
}
