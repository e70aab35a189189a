//! What can go wrong at the real edge: child processes (kind, helm, docker), the Kubernetes API,
//! the Docker engine, S3, timeouts, interruptions and refusals to touch what sparkrig did not
//! create. One enum for the whole crate; each variant says whether trying again can help
//! ([`Error::is_retryable`]).
//!
//! Messages interpolate their cause, so `{}` prints the whole story (no `#[source]` chain to
//! walk); the typed cause stays in the variant for callers that decide on it.

use std::time::Duration;

/// The crate's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error of the real edge.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A program could not be started (not installed, not executable). Fatal: install it
    /// (`sparkrig doctor` says how).
    #[error("cannot run {program}: {error} (see `sparkrig doctor`)")]
    Spawn {
        /// The program.
        program: String,
        /// Why.
        error: std::io::Error,
    },
    /// A program ran and exited non-zero. Fatal: the program refused (its stderr says why);
    /// plans do not retry it.
    #[error("{program} exited {code}: {stderr}")]
    Exit {
        /// The program.
        program: String,
        /// Exit code (-1 when killed by a signal).
        code: i32,
        /// The last lines of its stderr.
        stderr: String,
    },
    /// No usable Kubernetes configuration or context. Fatal: fix the kubeconfig.
    #[error("{0}")]
    KubeConfig(String),
    /// The Kubernetes API answered with an error or could not be reached. Retryable when the
    /// server was unreachable or answered 409, 429 or 5xx; fatal for other answers.
    #[error("{what}: {error}")]
    Kube {
        /// What was being done, naming the object.
        what: String,
        /// The client's error.
        error: Box<kube::Error>,
    },
    /// The Docker engine answered with an error or could not be reached. Retryable when the
    /// connection broke or timed out; fatal when the engine answered (a missing image, a name in
    /// use, an API version it does not speak) or its socket does not exist (not running).
    #[error("{what}: {error}")]
    Docker {
        /// What was being done, naming the container, network or image.
        what: String,
        /// bollard's error.
        error: Box<bollard::errors::Error>,
    },
    /// An S3 request failed. Retryable when the server was unreachable or answered 5xx (it is
    /// starting, or SlowDown); fatal for 4xx (403: the credentials are not the server's).
    #[error("S3 {what}: {detail}")]
    S3 {
        /// The operation and bucket/object.
        what: String,
        /// HTTP status, when the server answered.
        status: Option<u16>,
        /// The server's error code and message, or the connection error.
        detail: String,
    },
    /// A plain HTTP request (the registry's readiness check) got no answer. Retryable: the
    /// server may still be starting.
    #[error("GET {url}: {detail}")]
    Http {
        /// The URL.
        url: String,
        /// The connection error.
        detail: String,
    },
    /// A readiness wait ran out of time. Retryable: the condition may still come true (a slow
    /// machine); the message says what was last seen.
    #[error("not ready after {}s: {last}", .after.as_secs())]
    Timeout {
        /// How long was waited.
        after: Duration,
        /// The last observation.
        last: String,
    },
    /// Interrupted by Ctrl-C or SIGTERM. Fatal: the user asked to stop.
    #[error("interrupted (Ctrl-C or SIGTERM) {during}")]
    Interrupted {
        /// What was going on.
        during: String,
    },
    /// Something with a name sparkrig uses exists but sparkrig did not create it (no marker or
    /// ownership label). Fatal: sparkrig never touches it; rename or remove it yourself.
    #[error("{what} was not created by sparkrig ({why}); not touching it")]
    NotOurs {
        /// The object.
        what: String,
        /// How that was decided, and what to do.
        why: String,
    },
    /// An object a fault changes carries sparkrig's record of an earlier change
    /// ([`crate::ORIGINAL_REPLICAS`], `sparkrig.io/original-<key>`): a sparkrig run changed it
    /// and did not put it back (it was killed before healing), or another sparkrig run is
    /// injecting a fault on it now. Fatal: sparkrig cannot tell which, so it does not touch it;
    /// the message gives the command that restores it.
    #[error(
        "{what} carries {found}: a sparkrig run changed it and left it that way (killed before it could heal), or another sparkrig run is injecting a fault on it right now. Not touching it. If no other run is active, restore it with:\n  {restore}"
    )]
    LeftBroken {
        /// The object.
        what: String,
        /// The annotation found, `key=value`.
        found: String,
        /// The commands that restore it and remove the annotation.
        restore: String,
    },
    /// The request cannot be carried out as asked (unknown node, fault unavailable on this
    /// backend, bad manifest, unsupported version). Fatal: change the input.
    #[error("{0}")]
    Invalid(String),
    /// A local file could not be read or written. Fatal.
    #[error("{path}: {error}")]
    Io {
        /// The file or folder.
        path: String,
        /// Why.
        error: std::io::Error,
    },
    /// A step of a plan failed. Retryable as its cause is.
    #[error("step {index} ({why}): {error}")]
    Step {
        /// 1-based.
        index: usize,
        /// The step's reason.
        why: String,
        /// The cause.
        error: Box<Error>,
    },
    /// Several steps failed (heals and cleanup run every step). Retryable when each is.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Several(Vec<Error>),
}

impl Error {
    /// A Kubernetes API error about `what`.
    pub fn kube(what: impl Into<String>, error: kube::Error) -> Error {
        Error::Kube { what: what.into(), error: Box::new(error) }
    }

    /// A Docker error about `what`.
    pub fn docker(what: impl Into<String>, error: bollard::errors::Error) -> Error {
        Error::Docker { what: what.into(), error: Box::new(error) }
    }

    /// A local file error.
    pub fn io(path: impl std::fmt::Display, error: std::io::Error) -> Error {
        Error::Io { path: path.to_string(), error }
    }

    /// Whether trying the same thing again later can succeed (see each variant).
    pub fn is_retryable(&self) -> bool {
        match self {
            Error::Kube { error, .. } => match error.as_ref() {
                kube::Error::Api(s) => s.code == 409 || s.code == 429 || s.code >= 500,
                kube::Error::HyperError(_) | kube::Error::Service(_) => true,
                _ => false,
            },
            Error::Docker { error, .. } => matches!(
                error.as_ref(),
                bollard::errors::Error::RequestTimeoutError
                    | bollard::errors::Error::HyperResponseError { .. }
                    | bollard::errors::Error::HyperLegacyError { .. }
                    | bollard::errors::Error::IOError { .. }
            ),
            Error::S3 { status, .. } => status.is_none_or(|s| s >= 500),
            Error::Timeout { .. } | Error::Http { .. } => true,
            Error::Step { error, .. } => error.is_retryable(),
            Error::Several(all) => !all.is_empty() && all.iter().all(Error::is_retryable),
            Error::Spawn { .. }
            | Error::Exit { .. }
            | Error::KubeConfig(_)
            | Error::Interrupted { .. }
            | Error::NotOurs { .. }
            | Error::LeftBroken { .. }
            | Error::Invalid(_)
            | Error::Io { .. } => false,
        }
    }

    /// The Docker engine's HTTP status, when this is an answer from it.
    pub fn docker_status(&self) -> Option<u16> {
        match self {
            Error::Docker { error, .. } => docker_status(error),
            _ => None,
        }
    }
}

/// The status of an error answer from the Docker engine (404 no such container, 409 conflict,
/// 304 already started/stopped), None for transport errors.
pub(crate) fn docker_status(e: &bollard::errors::Error) -> Option<u16> {
    match e {
        bollard::errors::Error::DockerResponseServerError { status_code, .. } => Some(*status_code),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn engine_answer(status_code: u16, message: &str) -> bollard::errors::Error {
        bollard::errors::Error::DockerResponseServerError { status_code, message: message.into() }
    }

    #[test]
    fn answers_are_fatal_and_unreachable_servers_retryable() {
        let conflict = Error::docker("create kind-registry", engine_answer(409, "Conflict. The container name is already in use"));
        assert!(!conflict.is_retryable());
        assert_eq!(conflict.docker_status(), Some(409));
        assert_eq!(
            conflict.to_string(),
            "create kind-registry: Docker responded with status code 409: Conflict. The container name is already in use"
        );
        let too_new =
            Error::docker("engine version", engine_answer(400, "client version 1.53 is too new. Maximum supported API version is 1.41"));
        assert!(!too_new.is_retryable());
        assert!(Error::S3 { what: "create bucket data".into(), status: Some(503), detail: "SlowDown".into() }.is_retryable());
        assert!(!Error::S3 { what: "create bucket data".into(), status: Some(403), detail: "SignatureDoesNotMatch".into() }.is_retryable());
        assert!(Error::S3 { what: "head bucket data".into(), status: None, detail: "connection refused".into() }.is_retryable());
        assert!(Error::Timeout { after: Duration::from_secs(5), last: "x".into() }.is_retryable());
        assert!(!Error::NotOurs { what: "container kind-registry".into(), why: "no sparkrig.io/owned label".into() }.is_retryable());
        assert!(!Error::Interrupted { during: "while provisioning".into() }.is_retryable());
    }

    #[test]
    fn steps_and_several_keep_their_causes_in_the_message() {
        let e = Error::Step {
            index: 3,
            why: "the local registry".into(),
            error: Box::new(Error::Exit { program: "kind".into(), code: 1, stderr: "boom".into() }),
        };
        assert_eq!(e.to_string(), "step 3 (the local registry): kind exited 1: boom");
        assert!(!e.is_retryable());
        let s = Error::Several(vec![Error::Invalid("a".into()), Error::Timeout { after: Duration::from_secs(2), last: "b".into() }]);
        assert_eq!(s.to_string(), "a; not ready after 2s: b");
        assert!(!s.is_retryable());
    }
}
