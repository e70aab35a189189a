//! SparkApplication states (`v1beta2` `ApplicationStateType`) and the legal transitions of the
//! operator's controller, kept as one table (reference/spark-operator.md §2.1–2.3).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `status.applicationState.state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AppState {
    /// `""`: created, not yet seen by the controller (or not in a job namespace).
    New,
    /// spark-submit succeeded; the driver pod exists (maybe Pending).
    Submitted,
    /// The driver is running.
    Running,
    /// The driver succeeded; the controller will complete (or rerun, under Always).
    Succeeding,
    /// The driver failed or vanished; the controller decides on a retry.
    Failing,
    /// Terminal success.
    Completed,
    /// Terminal failure.
    Failed,
    /// spark-submit failed.
    SubmissionFailed,
    /// Resources are being deleted before a resubmission.
    PendingRerun,
    /// The spec changed; resources are deleted and counters reset.
    Invalidating,
    /// `spec.suspend` was set.
    Suspending,
    /// Suspended.
    Suspended,
    /// `spec.suspend` was cleared.
    Resuming,
    /// The driver pod's phase is Unknown.
    Unknown,
}

use AppState::*;

/// Every state, in declaration order.
pub const ALL_STATES: [AppState; 14] = [
    New,
    Submitted,
    Running,
    Succeeding,
    Failing,
    Completed,
    Failed,
    SubmissionFailed,
    PendingRerun,
    Invalidating,
    Suspending,
    Suspended,
    Resuming,
    Unknown,
];

/// The controller's legal transitions (`from`, `to`). The suspend and invalidate arrows exist
/// from every state the dispatcher and event filter allow (§2.2, §2.3 "Edge cases").
pub const TRANSITIONS: &[(AppState, &[AppState])] = &[
    (New, &[Submitted, SubmissionFailed, Suspending, Invalidating]),
    (SubmissionFailed, &[Submitted, SubmissionFailed, Failed, Suspending, Invalidating]),
    (Submitted, &[Running, Succeeding, Failing, Unknown, Suspending, Invalidating]),
    (Running, &[Succeeding, Failing, Unknown, Suspending, Invalidating]),
    (Unknown, &[Submitted, Running, Succeeding, Failing, Suspending, Invalidating]),
    (Succeeding, &[Completed, PendingRerun, Suspending, Invalidating]),
    (Failing, &[Failed, PendingRerun, Suspending, Invalidating]),
    (PendingRerun, &[Submitted, SubmissionFailed, Suspending, Invalidating]),
    (Invalidating, &[PendingRerun, Suspending]),
    (Completed, &[Invalidating]),
    (Failed, &[Invalidating]),
    (Suspending, &[Suspended, Invalidating]),
    (Suspended, &[Resuming, Invalidating]),
    (Resuming, &[Submitted, SubmissionFailed, Suspending, Invalidating]),
];

impl AppState {
    /// COMPLETED or FAILED (`util.IsTerminated`).
    pub fn is_terminal(self) -> bool {
        matches!(self, Completed | Failed)
    }

    /// Whether the controller may move an app from `self` to `to`.
    pub fn can_become(self, to: AppState) -> bool {
        TRANSITIONS.iter().find(|(f, _)| *f == self).is_some_and(|(_, tos)| tos.contains(&to))
    }

    /// The API string (`""` for New).
    pub fn as_str(self) -> &'static str {
        match self {
            New => "",
            Submitted => "SUBMITTED",
            Running => "RUNNING",
            Succeeding => "SUCCEEDING",
            Failing => "FAILING",
            Completed => "COMPLETED",
            Failed => "FAILED",
            SubmissionFailed => "SUBMISSION_FAILED",
            PendingRerun => "PENDING_RERUN",
            Invalidating => "INVALIDATING",
            Suspending => "SUSPENDING",
            Suspended => "SUSPENDED",
            Resuming => "RESUMING",
            Unknown => "UNKNOWN",
        }
    }

    /// Names accepted in scenarios (`NEW` for the empty state).
    pub fn names() -> impl Iterator<Item = &'static str> {
        ALL_STATES.iter().map(|s| if *s == New { "NEW" } else { s.as_str() })
    }
}

impl fmt::Display for AppState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if *self == New { "NEW" } else { self.as_str() })
    }
}

impl FromStr for AppState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.is_empty() || s == "NEW" {
            return Ok(New);
        }
        ALL_STATES.iter().copied().find(|st| st.as_str() == s).ok_or_else(|| format!("unknown application state `{s}`"))
    }
}

impl Serialize for AppState {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for AppState {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_covers_every_state_once() {
        for s in ALL_STATES {
            assert_eq!(TRANSITIONS.iter().filter(|(f, _)| *f == s).count(), 1, "{s}");
        }
    }

    #[test]
    fn terminal_states_only_leave_through_invalidation() {
        assert!(Completed.can_become(Invalidating));
        assert!(!Completed.can_become(Running));
        assert!(!Failed.can_become(PendingRerun));
        assert!(Failing.can_become(PendingRerun));
        assert!(!Running.can_become(Submitted));
    }

    #[test]
    fn string_forms_round_trip() {
        for s in ALL_STATES {
            assert_eq!(s.as_str().parse::<AppState>().unwrap(), s);
            assert_eq!(s.to_string().parse::<AppState>().unwrap(), s);
        }
        assert!("RUNNIN".parse::<AppState>().is_err());
    }
}
