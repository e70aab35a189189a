//! S3 through its API, so any S3-compatible server works (MinIO by default, the tests' moto
//! stand-in): the readiness check, bucket creation, and object put/get for checks. Requests are
//! signed by rusty-s3 (SigV4, query-string signatures, path-style URLs) and sent with the plain
//! HTTP/1 client kube already uses; the endpoint is a published port on the host.
//!
//! Entry point: [`S3::new`], then [`S3::wait_ready`] and [`S3::ensure_bucket`].

use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};

use crate::error::{Error, Result};

/// The region requests are signed for: MinIO's default when `MINIO_REGION` is unset, and the
/// one region where CreateBucket takes no location constraint body (AWS S3 API reference,
/// CreateBucket).
pub const REGION: &str = "us-east-1";
/// How long a signed URL stays valid (it is used at once).
const SIGNED_FOR: Duration = Duration::from_secs(60);
/// One request's limit.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// Readiness polls.
const POLL: Duration = Duration::from_millis(250);

type Http = Client<HttpConnector, Full<Bytes>>;

fn http() -> Http {
    Client::builder(TokioExecutor::new()).build(HttpConnector::new())
}

/// A plain HTTP request: status and body, or why nothing came back.
async fn send(client: &Http, method: &str, url: &str, body: Bytes) -> std::result::Result<(u16, Bytes), String> {
    // An explicit length: hyper sends none for an empty body, and S3 servers answer a PUT
    // without one with 411 Length Required.
    let req = hyper::Request::builder()
        .method(method)
        .uri(url)
        .header(hyper::header::CONTENT_LENGTH, body.len())
        .body(Full::new(body))
        .map_err(|e| e.to_string())?;
    let res = tokio::time::timeout(REQUEST_TIMEOUT, client.request(req))
        .await
        .map_err(|_| format!("no answer within {}s", REQUEST_TIMEOUT.as_secs()))?
        .map_err(|e| chain(&e))?;
    let status = res.status().as_u16();
    let body = res.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
    Ok((status, body))
}

/// An error with its causes, `a: b: c` (hyper's own message is only "client error").
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(&format!(": {c}"));
        cause = c.source();
    }
    text
}

/// `GET url`: the status (the registry's `/v2/` readiness check).
pub async fn get_status(url: &str) -> Result<u16> {
    send(&http(), "GET", url, Bytes::new()).await.map(|(s, _)| s).map_err(|detail| Error::Http { url: url.into(), detail })
}

/// `<Code>` and `<Message>` of an S3 error body, or the status alone.
fn error_detail(status: u16, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let tag = |t: &str| {
        let open = format!("<{t}>");
        let start = text.find(&open)? + open.len();
        let end = text[start..].find(&format!("</{t}>"))? + start;
        Some(text[start..end].to_string())
    };
    match (tag("Code"), tag("Message")) {
        (Some(c), Some(m)) => format!("HTTP {status} {c}: {m}"),
        (Some(c), None) => format!("HTTP {status} {c}"),
        _ => format!("HTTP {status}"),
    }
}

/// An S3 endpoint with credentials.
pub struct S3 {
    endpoint: url::Url,
    credentials: Credentials,
    http: Http,
}

impl S3 {
    /// An endpoint such as `http://127.0.0.1:32768` with an access key and secret.
    pub fn new(endpoint: &str, access_key: &str, secret_key: &str) -> Result<S3> {
        let endpoint = endpoint.parse().map_err(|e| Error::Invalid(format!("S3 endpoint `{endpoint}`: {e}")))?;
        Ok(S3 { endpoint, credentials: Credentials::new(access_key, secret_key), http: http() })
    }

    fn bucket(&self, name: &str) -> Result<Bucket> {
        Bucket::new(self.endpoint.clone(), UrlStyle::Path, name.to_string(), REGION)
            .map_err(|e| Error::Invalid(format!("S3 bucket `{name}`: {e}")))
    }

    async fn call(&self, what: &str, method: &str, url: url::Url, body: Bytes) -> Result<(u16, Bytes)> {
        send(&self.http, method, url.as_str(), body).await.map_err(|detail| Error::S3 {
            what: format!("{what} at {}", self.endpoint),
            status: None,
            detail,
        })
    }

    fn answer(what: &str, status: u16, body: &[u8]) -> Error {
        Error::S3 { what: what.to_string(), status: Some(status), detail: error_detail(status, body) }
    }

    /// Whether the bucket exists (HeadBucket: 200 yes, 404 no).
    pub async fn bucket_exists(&self, name: &str) -> Result<bool> {
        let b = self.bucket(name)?;
        let url = b.head_bucket(Some(&self.credentials)).sign(SIGNED_FOR);
        let what = format!("head bucket {name}");
        match self.call(&what, "HEAD", url, Bytes::new()).await? {
            (200, _) => Ok(true),
            (404, _) => Ok(false),
            (s, body) => Err(Self::answer(&what, s, &body)),
        }
    }

    /// Creates the bucket unless it exists (CreateBucket; "already owned by you" is success).
    pub async fn ensure_bucket(&self, name: &str) -> Result<()> {
        if self.bucket_exists(name).await? {
            return Ok(());
        }
        let b = self.bucket(name)?;
        let url = b.create_bucket(&self.credentials).sign(SIGNED_FOR);
        let what = format!("create bucket {name}");
        match self.call(&what, "PUT", url, Bytes::new()).await? {
            (200, _) => Ok(()),
            (409, body) if String::from_utf8_lossy(&body).contains("BucketAlreadyOwnedByYou") => Ok(()),
            (s, body) => Err(Self::answer(&what, s, &body)),
        }
    }

    /// Polls until the server answers a signed request as S3 does (HeadBucket of `probe`: 200
    /// or 404). Connection errors and 5xx are retried until `timeout`; any other answer (403:
    /// wrong credentials) fails at once.
    pub async fn wait_ready(&self, probe: &str, timeout: Duration) -> Result<()> {
        let start = Instant::now();
        loop {
            match self.bucket_exists(probe).await {
                Ok(_) => return Ok(()),
                Err(e) if e.is_retryable() && start.elapsed() < timeout => tokio::time::sleep(POLL).await,
                Err(e) if e.is_retryable() => return Err(Error::Timeout { after: timeout, last: e.to_string() }),
                Err(e) => return Err(e),
            }
        }
    }

    /// PutObject.
    pub async fn put_object(&self, bucket: &str, key: &str, body: Vec<u8>) -> Result<()> {
        let b = self.bucket(bucket)?;
        let url = b.put_object(Some(&self.credentials), key).sign(SIGNED_FOR);
        let what = format!("put {bucket}/{key}");
        match self.call(&what, "PUT", url, Bytes::from(body)).await? {
            (200, _) => Ok(()),
            (s, body) => Err(Self::answer(&what, s, &body)),
        }
    }

    /// GetObject.
    pub async fn get_object(&self, bucket: &str, key: &str) -> Result<Vec<u8>> {
        let b = self.bucket(bucket)?;
        let url = b.get_object(Some(&self.credentials), key).sign(SIGNED_FOR);
        let what = format!("get {bucket}/{key}");
        match self.call(&what, "GET", url, Bytes::new()).await? {
            (200, body) => Ok(body.to_vec()),
            (s, body) => Err(Self::answer(&what, s, &body)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_error_bodies_give_their_code_and_message() {
        let body = br#"<?xml version="1.0" encoding="UTF-8"?><Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match</Message></Error>"#;
        assert_eq!(error_detail(403, body), "HTTP 403 SignatureDoesNotMatch: The request signature we calculated does not match");
        assert_eq!(error_detail(404, b""), "HTTP 404");
    }

    #[test]
    fn requests_are_signed_path_style_for_the_endpoint() {
        let s3 = S3::new("http://127.0.0.1:9000", "user", "secret").unwrap();
        let url = s3.bucket("spark-events").unwrap().create_bucket(&s3.credentials).sign(SIGNED_FOR);
        assert!(url.as_str().starts_with("http://127.0.0.1:9000/spark-events/?"), "{url}");
        assert!(url.as_str().contains("X-Amz-Credential=user%2F") && url.as_str().contains("%2Fus-east-1%2Fs3%2Faws4_request"), "{url}");
        assert!(S3::new("not a url", "u", "p").is_err());
    }

    #[tokio::test]
    async fn an_unreachable_endpoint_is_retryable_until_the_timeout() {
        // A port nothing listens on: bind, read the port, close.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let s3 = S3::new(&format!("http://127.0.0.1:{port}"), "u", "p").unwrap();
        let e = s3.wait_ready("data", Duration::from_millis(300)).await.unwrap_err();
        assert!(matches!(e, Error::Timeout { .. }), "{e}");
        assert!(e.to_string().contains("head bucket data"), "{e}");
    }
}
