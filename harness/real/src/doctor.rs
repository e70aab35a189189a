//! `sparkrig doctor`: are the tools the kind backend drives present, recent enough and is the
//! host set up for many nodes? Each check says how to fix what it finds.

use std::process::Command;

use crate::docker::Engine;
use crate::error::{Error, Result};

/// kind release whose node image sparkrig pins, and the first that converts kubeadm patches
/// without `apiVersion` for v1beta4 (reference/kind-testcontainers-kube-rs-chaos.md §1.1).
pub const MIN_KIND: (u32, u32, u32) = (0, 32, 0);
/// inotify limits kind needs for many nodes (kind known-issues, reference §1.6).
pub const MIN_INOTIFY_WATCHES: u64 = 524_288;
/// Same.
pub const MIN_INOTIFY_INSTANCES: u64 = 512;

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// What was checked.
    pub what: &'static str,
    /// Passed.
    pub ok: bool,
    /// What was found.
    pub found: String,
    /// How to fix it (empty when ok).
    pub fix: String,
    /// Whether the kind backend needs it (kubectl is only a convenience).
    pub required: bool,
}

/// `v0.32.0` / `kind v0.32.0 go1.24 linux/amd64` / `v3.17.2+g…` → (0, 32, 0).
pub fn parse_version(text: &str) -> Option<(u32, u32, u32)> {
    let word = text
        .split_whitespace()
        .find(|w| w.trim_start_matches('v').chars().next().is_some_and(|c| c.is_ascii_digit()) && w.contains('.'))?;
    let core = word.trim_start_matches('v').split(['+', '-']).next()?;
    let mut parts = core.split('.').map(|p| p.parse::<u32>().ok());
    Some((parts.next()??, parts.next()?.unwrap_or(0), parts.next().flatten().unwrap_or(0)))
}

/// The kind check from `kind version` output (None: not installed).
pub fn kind_check(output: Option<&str>) -> Check {
    let fix = format!(
        "install kind v{}.{}.{}+: `go install sigs.k8s.io/kind@v0.32.0`, or `curl -Lo kind https://kind.sigs.k8s.io/dl/v0.32.0/kind-linux-amd64 && chmod +x kind && sudo mv kind /usr/local/bin/`",
        MIN_KIND.0, MIN_KIND.1, MIN_KIND.2
    );
    match output.map(|o| (o, parse_version(o))) {
        None => Check { what: "kind", ok: false, found: "not found".into(), fix, required: true },
        Some((o, Some(v))) if v >= MIN_KIND => Check { what: "kind", ok: true, found: o.trim().into(), fix: String::new(), required: true },
        Some((o, _)) => Check { what: "kind", ok: false, found: format!("{} (older than v0.32.0)", o.trim()), fix, required: true },
    }
}

/// The helm check from `helm version --short`.
pub fn helm_check(output: Option<&str>) -> Check {
    let fix = "install helm 3: `curl -fsSL https://raw.githubusercontent.com/helm/helm/main/scripts/get-helm-3 | bash` (https://helm.sh/docs/intro/install/)".to_string();
    match output.map(|o| (o, parse_version(o))) {
        Some((o, Some(v))) if v.0 >= 3 => Check { what: "helm", ok: true, found: o.trim().into(), fix: String::new(), required: true },
        Some((o, _)) => Check { what: "helm", ok: false, found: format!("{} (helm 3 or newer needed)", o.trim()), fix, required: true },
        None => Check { what: "helm", ok: false, found: "not found".into(), fix, required: true },
    }
}

/// The Docker checks: the client (the up plan runs `docker exec/pull/push`), then the engine as
/// sparkrig reaches it through the API (version, the API range it accepts, the version
/// negotiated).
pub fn docker_checks(client: Option<&str>, engine: std::result::Result<&Engine, &str>) -> Vec<Check> {
    let mut out = vec![match client {
        Some(v) => Check { what: "docker client", ok: true, found: v.trim().into(), fix: String::new(), required: true },
        None => Check {
            what: "docker client",
            ok: false,
            found: "not found".into(),
            fix: "install Docker: https://docs.docker.com/engine/install/".into(),
            required: true,
        },
    }];
    out.push(match engine {
        Ok(e) => Check {
            what: "docker engine",
            ok: true,
            found: format!(
                "{} ({}), API {} (accepts {}–{}), sparkrig speaks {}",
                e.version, e.platform, e.api_version, e.min_api_version, e.api_version, e.negotiated
            ),
            fix: String::new(),
            required: true,
        },
        Err(why) => Check {
            what: "docker engine",
            ok: false,
            found: why.lines().last().unwrap_or("").trim().to_string(),
            fix: "start the Docker engine (`sudo systemctl start docker`, or Docker Desktop), or point DOCKER_HOST at one; check with `docker info`".into(),
            required: true,
        },
    });
    out
}

/// The inotify check from the two /proc values (None: not Linux or unreadable).
pub fn inotify_check(watches: Option<u64>, instances: Option<u64>) -> Check {
    let fix = format!(
        "`sudo sysctl fs.inotify.max_user_watches={MIN_INOTIFY_WATCHES} fs.inotify.max_user_instances={MIN_INOTIFY_INSTANCES}` (kind known issue \"too many open files\"; persist it in /etc/sysctl.d/)"
    );
    match (watches, instances) {
        (Some(w), Some(i)) if w >= MIN_INOTIFY_WATCHES && i >= MIN_INOTIFY_INSTANCES => Check {
            what: "inotify limits",
            ok: true,
            found: format!("max_user_watches {w}, max_user_instances {i}"),
            fix: String::new(),
            required: true,
        },
        (Some(w), Some(i)) => {
            Check { what: "inotify limits", ok: false, found: format!("max_user_watches {w}, max_user_instances {i}"), fix, required: true }
        }
        _ => Check { what: "inotify limits", ok: true, found: "not Linux: nothing to check".into(), fix: String::new(), required: false },
    }
}

/// The kubectl check (optional: sparkrig talks to the API itself; dry runs print kubectl lines).
pub fn kubectl_check(output: Option<&str>) -> Check {
    match output {
        Some(o) => {
            Check { what: "kubectl", ok: true, found: o.lines().next().unwrap_or("").trim().into(), fix: String::new(), required: false }
        }
        None => Check {
            what: "kubectl",
            ok: false,
            found: "not found (optional)".into(),
            fix: "install kubectl to replay dry-run plans by hand: https://kubernetes.io/docs/tasks/tools/".into(),
            required: false,
        },
    }
}

fn output(program: &str, args: &[&str]) -> Result<String> {
    match Command::new(program).args(args).output() {
        Ok(o) if o.status.success() => Ok(String::from_utf8_lossy(&o.stdout).into_owned()),
        Ok(o) => Err(Error::Exit {
            program: program.into(),
            code: o.status.code().unwrap_or(-1),
            stderr: format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)),
        }),
        Err(error) => Err(Error::Spawn { program: program.into(), error }),
    }
}

/// The engine through the API, negotiated as every sparkrig connection is.
fn engine() -> Result<Engine> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| Error::io("a runtime for Docker", e))?;
    rt.block_on(async { crate::docker::engine(&crate::docker::connect().await?).await })
}

fn proc_u64(path: &str) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Runs every check on this machine.
pub fn run() -> Vec<Check> {
    let client = output("docker", &["version", "--format", "{{.Client.Version}}"]);
    let client_found = match &client {
        Ok(v) => Some(v.clone()),
        // An unreachable engine still prints the client's version.
        Err(Error::Exit { stderr, .. }) => stderr.lines().next().map(String::from).filter(|l| !l.is_empty()),
        Err(_) => None,
    };
    let engine = engine().map_err(|e| e.to_string());
    let mut checks = docker_checks(client_found.as_deref(), engine.as_ref().map_err(String::as_str));
    checks.push(kind_check(output("kind", &["version"]).ok().as_deref()));
    checks.push(helm_check(output("helm", &["version", "--short"]).ok().as_deref()));
    checks.push(kubectl_check(output("kubectl", &["version", "--client"]).ok().as_deref()));
    checks.push(inotify_check(proc_u64("/proc/sys/fs/inotify/max_user_watches"), proc_u64("/proc/sys/fs/inotify/max_user_instances")));
    checks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_from_each_tools_output() {
        assert_eq!(parse_version("kind v0.32.0 go1.24.2 linux/amd64"), Some((0, 32, 0)));
        assert_eq!(parse_version("v3.17.2+gcc0bbbd"), Some((3, 17, 2)));
        assert_eq!(parse_version("Client Version: v1.32.4-dispatcher"), Some((1, 32, 4)));
        assert_eq!(parse_version("nothing here"), None);
    }

    #[test]
    fn missing_or_old_tools_fail_with_a_fix() {
        let k = kind_check(None);
        assert!(!k.ok && k.fix.contains("go install sigs.k8s.io/kind@v0.32.0"));
        let k = kind_check(Some("kind v0.20.0 go1.20 linux/amd64"));
        assert!(!k.ok && k.found.contains("older than v0.32.0"));
        assert!(kind_check(Some("kind v0.32.0 go1.24.2 linux/amd64")).ok);
        assert!(!helm_check(Some("v2.17.0+ga690bad")).ok);
        assert!(helm_check(Some("v3.17.2+gcc0bbbd")).ok);
        let d = docker_checks(
            Some("28.2.2"),
            Err("cannot reach the Docker engine (API version negotiation): Socket not found: /var/run/docker.sock"),
        );
        assert!(d[0].ok && !d[1].ok);
        assert!(d[1].found.contains("Socket not found") && d[1].fix.contains("docker info"));
        let engine = Engine {
            version: "20.10.24+dfsg1".into(),
            api_version: "1.41".into(),
            min_api_version: "1.12".into(),
            negotiated: "1.41".into(),
            platform: "linux/amd64".into(),
        };
        let d = docker_checks(Some("28.2.2"), Ok(&engine));
        assert!(d[1].ok);
        assert_eq!(d[1].found, "20.10.24+dfsg1 (linux/amd64), API 1.41 (accepts 1.12–1.41), sparkrig speaks 1.41");
        let i = inotify_check(Some(8192), Some(128));
        assert!(!i.ok && i.fix.contains("fs.inotify.max_user_watches=524288"));
        assert!(inotify_check(Some(524_288), Some(512)).ok);
    }
}
