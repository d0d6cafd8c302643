//! A fault-injecting HTTP proxy between the tool and a real MLflow server.
//!
//! For a configurable share of requests it answers 500, 503 or 429 (with `Retry-After`)
//! without passing the request on, drops the connection before or after the server handled
//! the request, cuts the answer's body half-way, or stalls past the client's read timeout.
//! The faults that come after the server handled the request are the ones that matter for
//! creates: the object exists although the client saw a failure. It can also rewrite answers,
//! to play a hostile or broken server (`..` in artifact paths, impossible sizes).
//!
//! The proxy runs its own tokio runtime on a background thread, so synchronous tests use it
//! like a server process; it stops when dropped.

use crate::background::{accept_until, Background};
use std::{
    convert::Infallible,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::{body::Frame, header, Request, Response, StatusCode};

/// One kind of injected failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fault {
    /// 500 without passing the request on.
    ServerError,
    /// 503 without passing the request on.
    Unavailable,
    /// 429 with `Retry-After: 1`, without passing the request on.
    Throttled,
    /// The connection closes before the request reaches the server.
    ResetBeforeServer,
    /// The server handles the request; the connection closes before the answer.
    ResetAfterServer,
    /// The server handles the request; the answer declares its full length and stops half-way.
    TruncatedBody,
    /// No answer for [`FaultPlan::stall`], then the connection closes; the request is dropped.
    Stall,
}

impl Fault {
    pub const ALL: [Fault; 7] = [
        Fault::ServerError,
        Fault::Unavailable,
        Fault::Throttled,
        Fault::ResetBeforeServer,
        Fault::ResetAfterServer,
        Fault::TruncatedBody,
        Fault::Stall,
    ];
}

/// A function that may replace an answer's body: given the request's path and query and the
/// server's body, it returns the body to send instead, or `None` to pass it through.
pub type Rewrite = Arc<dyn Fn(&str, &[u8]) -> Option<Vec<u8>> + Send + Sync>;

/// What the proxy does to the requests it passes.
#[derive(Clone)]
pub struct FaultPlan {
    /// Share of requests that get a fault, 0.0 to 1.0.
    pub rate: f64,
    /// Faults to choose from, evenly.
    pub faults: Vec<Fault>,
    /// How long a [`Fault::Stall`] holds the connection; longer than the client's timeout.
    pub stall: Duration,
    /// Seed of the choice, so a failing run can be repeated.
    pub seed: u64,
    pub rewrite: Option<Rewrite>,
    /// The first request whose path holds this text reaches the server only after this long
    /// (as from a queue in front of it); its answer then comes back as usual.
    pub late: Option<(String, Duration)>,
}

impl FaultPlan {
    /// Every kind of fault on `rate` of the requests.
    pub fn faults(rate: f64, stall: Duration, seed: u64) -> Self {
        Self { rate, faults: Fault::ALL.to_vec(), stall, seed, rewrite: None, late: None }
    }

    /// No faults; the first request whose path holds `path` is passed on after `delay`.
    pub fn late(path: &str, delay: Duration) -> Self {
        Self {
            rate: 0.0,
            faults: Vec::new(),
            stall: Duration::ZERO,
            seed: 0,
            rewrite: None,
            late: Some((path.to_string(), delay)),
        }
    }

    /// No faults; answers pass through `rewrite`.
    pub fn rewriting(rewrite: impl Fn(&str, &[u8]) -> Option<Vec<u8>> + Send + Sync + 'static) -> Self {
        Self {
            rate: 0.0,
            faults: Vec::new(),
            stall: Duration::ZERO,
            seed: 0,
            rewrite: Some(Arc::new(rewrite)),
            late: None,
        }
    }
}

/// How many requests passed and how many got each fault.
#[derive(Debug, Default)]
struct Counts {
    requests: AtomicU64,
    by_fault: [AtomicU64; Fault::ALL.len()],
}

/// A snapshot of the proxy's counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultCounts {
    pub requests: u64,
    pub faulted: Vec<(Fault, u64)>,
}

impl FaultCounts {
    pub fn total_faulted(&self) -> u64 {
        self.faulted.iter().map(|(_, n)| n).sum()
    }
}

struct State {
    upstream: String,
    plan: FaultPlan,
    /// Whether the late request of [`FaultPlan::late`] has been held.
    held: std::sync::atomic::AtomicBool,
    http: reqwest::Client,
    counts: Counts,
}

/// A running proxy; `url` replaces the server's URL in the tool's arguments.
pub struct FaultProxy {
    pub url: String,
    state: Arc<State>,
    _serving: Background,
}

type Body = BoxBody<Bytes, std::io::Error>;

impl FaultProxy {
    /// Starts a proxy on a free loopback port in front of `upstream` (a server's base URL).
    pub fn start(upstream: &str, plan: FaultPlan) -> FaultProxy {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        listener.set_nonblocking(true).expect("non-blocking listener");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        let state = Arc::new(State {
            upstream: upstream.trim_end_matches('/').to_string(),
            plan,
            held: std::sync::atomic::AtomicBool::new(false),
            http: reqwest::Client::builder().no_proxy().build().expect("HTTP client"),
            counts: Counts::default(),
        });
        let serving = state.clone();
        let _serving = Background::spawn(move |stopped| serve(listener, serving, stopped));
        FaultProxy { url, state, _serving }
    }

    pub fn counts(&self) -> FaultCounts {
        let c = &self.state.counts;
        FaultCounts {
            requests: c.requests.load(Ordering::Relaxed),
            faulted: Fault::ALL.iter().zip(&c.by_fault).map(|(f, n)| (*f, n.load(Ordering::Relaxed))).collect(),
        }
    }
}

async fn serve(listener: std::net::TcpListener, state: Arc<State>, stopped: tokio::sync::oneshot::Receiver<()>) {
    accept_until(listener, stopped, move |stream| {
        let state = state.clone();
        async move {
            let service = hyper::service::service_fn(move |req| handle(state.clone(), req));
            let io = hyper_util::rt::TokioIo::new(stream);
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
        }
    })
    .await;
}

/// An error returned by the service makes hyper close the connection without an answer.
fn drop_connection() -> std::io::Error {
    std::io::Error::other("fault injected: connection dropped")
}

async fn handle(state: Arc<State>, req: Request<hyper::body::Incoming>) -> Result<Response<Body>, std::io::Error> {
    let n = state.counts.requests.fetch_add(1, Ordering::Relaxed);
    let fault = pick(&state.plan, n);
    if let Some(f) = fault {
        let i = Fault::ALL.iter().position(|k| *k == f).expect("every fault is in ALL");
        state.counts.by_fault[i].fetch_add(1, Ordering::Relaxed);
    }
    let (parts, body) = req.into_parts();
    let body = body.collect().await.map_err(std::io::Error::other)?.to_bytes();
    match fault {
        Some(Fault::ServerError) => return Ok(error_answer(StatusCode::INTERNAL_SERVER_ERROR)),
        Some(Fault::Unavailable) => return Ok(error_answer(StatusCode::SERVICE_UNAVAILABLE)),
        Some(Fault::Throttled) => {
            let mut r = error_answer(StatusCode::TOO_MANY_REQUESTS);
            r.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
            return Ok(r);
        }
        Some(Fault::ResetBeforeServer) => return Err(drop_connection()),
        Some(Fault::Stall) => {
            tokio::time::sleep(state.plan.stall).await;
            return Err(drop_connection());
        }
        _ => {}
    }
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
    let late = state.plan.late.as_ref().filter(|(late, _)| path.contains(late.as_str()));
    let delay = late.filter(|_| !state.held.swap(true, Ordering::Relaxed)).map(|(_, d)| *d);
    let mut forward = state.http.request(parts.method, format!("{}{path}", state.upstream)).body(body);
    for (name, value) in &parts.headers {
        if !matches!(*name, header::HOST | header::CONNECTION | header::CONTENT_LENGTH | header::TRANSFER_ENCODING) {
            forward = forward.header(name, value);
        }
    }
    // A task of its own: a request held back still reaches the server when the client has
    // given up on it and gone (which drops this handler).
    let exchange = tokio::spawn(async move {
        if let Some(d) = delay {
            tokio::time::sleep(d).await;
        }
        let answer = forward.send().await?;
        let (status, headers) = (answer.status(), answer.headers().clone());
        Ok::<_, reqwest::Error>((status, headers, answer.bytes().await?))
    });
    let (status, headers, mut bytes) = match exchange.await.map_err(std::io::Error::other)? {
        Ok(a) => a,
        Err(e) => return Ok(text_answer(StatusCode::BAD_GATEWAY, format!("proxy: upstream failed: {e}"))),
    };
    if let Some(new) = state.plan.rewrite.as_ref().and_then(|r| r(&path, &bytes)) {
        bytes = Bytes::from(new);
    }
    let mut builder = Response::builder().status(status);
    for (name, value) in &headers {
        if !matches!(*name, header::CONNECTION | header::CONTENT_LENGTH | header::TRANSFER_ENCODING) {
            builder = builder.header(name, value);
        }
    }
    let builder = builder.header(header::CONTENT_LENGTH, bytes.len());
    let body: Body = match fault {
        Some(Fault::ResetAfterServer) => return Err(drop_connection()),
        Some(Fault::TruncatedBody) => {
            let half = bytes.slice(..bytes.len() / 2);
            let frames = futures::stream::iter([Ok(Frame::data(half)), Err(drop_connection())]);
            BodyExt::boxed(StreamBody::new(frames))
        }
        _ => full(bytes),
    };
    Ok(builder.body(body).expect("a valid answer"))
}

/// Whether request number `n` gets a fault, and which: a pure function of the seed and `n`.
fn pick(plan: &FaultPlan, n: u64) -> Option<Fault> {
    if plan.faults.is_empty() || plan.rate <= 0.0 {
        return None;
    }
    let mut rng = fastrand::Rng::with_seed(plan.seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    (rng.f64() < plan.rate).then(|| plan.faults[rng.usize(..plan.faults.len())])
}

fn full(bytes: Bytes) -> Body {
    BodyExt::boxed(Full::new(bytes).map_err(|never: Infallible| match never {}))
}

fn error_answer(status: StatusCode) -> Response<Body> {
    let body = format!(r#"{{"error_code":"INTERNAL_ERROR","message":"fault injected: {status}"}}"#);
    let mut r = text_answer(status, body);
    r.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/json"));
    r
}

fn text_answer(status: StatusCode, body: String) -> Response<Body> {
    Response::builder().status(status).body(full(Bytes::from(body))).expect("a valid answer")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_share_of_faults_follows_the_rate_and_the_seed() {
        let plan = FaultPlan::faults(0.1, Duration::ZERO, 7);
        let faulted = (0..10_000).filter(|n| pick(&plan, *n).is_some()).count();
        assert!((800..1200).contains(&faulted), "{faulted}");
        let again = (0..10_000).filter(|n| pick(&plan, *n).is_some()).count();
        assert_eq!(faulted, again);
        let kinds: std::collections::HashSet<_> = (0..10_000).filter_map(|n| pick(&plan, n)).collect();
        assert_eq!(kinds.len(), Fault::ALL.len());
    }
}
