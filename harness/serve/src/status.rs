//! API errors as `Status` objects (reference/kube-api.md §3.6): every non-2xx answer is JSON
//! with the reason and code clients branch on (kubectl apply creates on NotFound, fabric8
//! falls back to single deletes on 405, kubectl drain retries evictions on 429).

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// An API error.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP code.
    pub code: u16,
    /// `NotFound`, `AlreadyExists`, ...
    pub reason: &'static str,
    /// The message.
    pub message: String,
    /// `details` (name, group, kind, causes).
    pub details: Option<Value>,
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { code, reason, message: message.into(), details: None }
    }

    /// 404: `<resource> "<name>" not found`.
    pub fn not_found(resource: &str, name: &str) -> ApiError {
        let kind = resource.split('.').next().unwrap_or(resource);
        ApiError {
            details: Some(json!({"name": name, "kind": kind})),
            ..ApiError::new(404, "NotFound", format!("{resource} \"{name}\" not found"))
        }
    }

    /// 404 for a path nothing serves.
    pub fn no_route(path: &str) -> ApiError {
        ApiError::new(404, "NotFound", format!("the server could not find the requested resource ({path})"))
    }

    /// 409: `<resource> "<name>" already exists`.
    pub fn already_exists(resource: &str, name: &str) -> ApiError {
        ApiError {
            details: Some(json!({"name": name, "kind": resource})),
            ..ApiError::new(409, "AlreadyExists", format!("{resource} \"{name}\" already exists"))
        }
    }

    /// 409: a stale resourceVersion.
    pub fn conflict(resource: &str, name: &str) -> ApiError {
        ApiError::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {resource} \"{name}\": the object has been modified; please apply your changes to the latest version and try again"
            ),
        )
    }

    /// 422: the object is invalid.
    pub fn invalid(kind: &str, name: &str, field: &str, why: &str) -> ApiError {
        ApiError {
            details: Some(json!({"name": name, "kind": kind, "causes": [{"reason": "FieldValueInvalid", "message": why, "field": field}]})),
            ..ApiError::new(422, "Invalid", format!("{kind} \"{name}\" is invalid: {field}: {why}"))
        }
    }

    /// 400.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "BadRequest", message)
    }

    /// 403: an admission plugin refused the request (`<resource> "<name>" is forbidden: ...`:
    /// ResourceQuota, LimitRanger, Priority).
    pub fn forbidden(resource: &str, name: &str, message: impl Into<String>) -> ApiError {
        ApiError { details: Some(json!({"name": name, "kind": resource})), ..ApiError::new(403, "Forbidden", message) }
    }

    /// 405: the verb or change is not something this server can carry out.
    pub fn not_allowed(message: impl Into<String>) -> ApiError {
        ApiError::new(405, "MethodNotAllowed", message)
    }

    /// 415.
    pub fn unsupported_media(message: impl Into<String>) -> ApiError {
        ApiError::new(415, "UnsupportedMediaType", message)
    }

    /// 429 (a PodDisruptionBudget blocks an eviction).
    pub fn too_many_requests(message: impl Into<String>, causes: Value) -> ApiError {
        ApiError { details: Some(json!({"causes": causes})), ..ApiError::new(429, "TooManyRequests", message) }
    }

    /// 500 (a webhook call failed with failurePolicy Fail).
    pub fn internal(message: impl Into<String>) -> ApiError {
        ApiError::new(500, "InternalError", message)
    }

    /// 410 Expired (an old resourceVersion).
    pub fn expired(message: impl Into<String>) -> ApiError {
        ApiError::new(410, "Expired", message)
    }

    /// The Status object.
    pub fn status(&self) -> Value {
        let mut s = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": self.message, "reason": self.reason, "code": self.code});
        if let Some(d) = &self.details {
            s["details"] = d.clone();
        }
        s
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (code, [("content-type", "application/json")], self.status().to_string()).into_response()
    }
}

/// A `Status` of success (eviction 201, delete of non-pods).
pub fn success(code: u16, details: Option<Value>) -> Value {
    let mut s = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": code});
    if let Some(d) = details {
        s["details"] = d;
    }
    s
}
