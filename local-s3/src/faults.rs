//! Fault injection: make chosen S3 calls fail (or slow down) on purpose.
//!
//! Every knob is an atomic, so a test can turn faults on and off while the server runs.
//! Two ways to choose which calls fail:
//!
//! * a **fraction** per operation (`0.0..=1.0`), drawn from a seedable, deterministic RNG;
//! * a **countdown**: [`Faults::fail_next`] fails exactly the next `n` matching calls.
//!
//! Either can be narrowed to objects whose `bucket/key` starts with a prefix
//! ([`Faults::only_prefix`]), e.g. `"resized/images/"` to fail only the thumbnail writes.
//!
//! What a fault does is a [`FaultKind`]: an error answer (500, 503), a delay, or a network
//! failure: the connection closed with no answer, before or after the operation took effect,
//! or held silent for a while first (what a client with a timeout sees as a timeout). With
//! several kinds set for an operation, each fault picks one of them at random.
//!
//! ```
//! use std::time::Duration;
//! use fitbox_local_s3::{FaultKind, Faults, Op};
//! let faults = Faults::new(42);
//! faults.fail_next(Op::Put, 1, FaultKind::SlowDown); // next PutObject answers 503 SlowDown
//! faults.set_rate(Op::Get, 0.25);                     // a quarter of GetObjects fail
//! faults.set_kinds(Op::Get, &[FaultKind::InternalError, FaultKind::Drop]); // ... either way
//! faults.fail(Op::Delete, 0.1, FaultKind::Hang(Duration::from_secs(5)));
//! ```

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use s3s::{S3Error, S3ErrorCode, S3Result};

/// The operations faults can be attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Op {
    /// GetObject.
    Get,
    /// PutObject, UploadPart and CompleteMultipartUpload.
    Put,
    /// CopyObject and UploadPartCopy.
    Copy,
    /// DeleteObject and DeleteObjects.
    Delete,
    /// HeadObject.
    Head,
    /// ListObjects and ListObjectsV2.
    List,
}

impl Op {
    /// Every operation, in a fixed order.
    pub const ALL: [Op; 6] = [Op::Get, Op::Put, Op::Copy, Op::Delete, Op::Head, Op::List];

    fn index(self) -> usize {
        match self {
            Op::Get => 0,
            Op::Put => 1,
            Op::Copy => 2,
            Op::Delete => 3,
            Op::Head => 4,
            Op::List => 5,
        }
    }
}

/// What an injected fault does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FaultKind {
    /// Answer 500 InternalError (the default).
    InternalError,
    /// Answer 503 SlowDown (throttling).
    SlowDown,
    /// Wait this long, then perform the call normally.
    Delay(Duration),
    /// Close the connection without an answer; the operation does not happen.
    Drop,
    /// Perform the operation, then close the connection before the answer is sent: the
    /// client cannot tell whether it happened (the case that tests idempotency).
    DropAfter,
    /// Say nothing for this long, then close the connection; the operation does not happen.
    /// A client whose timeout is shorter sees a timeout.
    Hang(Duration),
}

impl FaultKind {
    /// A short name for logs: `500`, `503`, `delay`, `drop`, `drop-after`, `hang`.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::InternalError => "500",
            FaultKind::SlowDown => "503",
            FaultKind::Delay(_) => "delay",
            FaultKind::Drop => "drop",
            FaultKind::DropAfter => "drop-after",
            FaultKind::Hang(_) => "hang",
        }
    }
}

tokio::task_local! {
    /// Set by [`DropConnections`] around each request: an injected fault sets it to have the
    /// connection closed instead of answered.
    static DROP_CONNECTION: Arc<AtomicBool>;
}

/// Ask the connection serving the current request to be closed without an answer.
fn drop_connection() {
    let marked = DROP_CONNECTION
        .try_with(|flag| flag.store(true, Ordering::SeqCst))
        .is_ok();
    if !marked {
        tracing::warn!("injected connection drop outside a DropConnections service; answering 500");
    }
}

/// The error answered when a dropped connection cannot be dropped (never reaches a client
/// through [`DropConnections`]).
fn dropped(op: Op, target: &str) -> S3Error {
    S3Error::with_message(
        S3ErrorCode::InternalError,
        format!("injected fault: {op:?} {target} (connection dropped)"),
    )
}

/// A hyper service wrapper that turns [`FaultKind::Drop`], [`FaultKind::DropAfter`] and
/// [`FaultKind::Hang`] into a closed connection: it fails the request with an error, and hyper
/// closes the connection without writing a response.
#[derive(Debug, Clone)]
pub(crate) struct DropConnections<S> {
    inner: S,
}

impl<S> DropConnections<S> {
    pub(crate) fn new(inner: S) -> Self {
        DropConnections { inner }
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl<S, Req, Resp> hyper::service::Service<Req> for DropConnections<S>
where
    S: hyper::service::Service<Req, Response = Resp>,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    Resp: Send + 'static,
{
    type Response = Resp;
    type Error = BoxError;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Resp, BoxError>> + Send + 'static>,
    >;

    fn call(&self, req: Req) -> Self::Future {
        let flag = Arc::new(AtomicBool::new(false));
        let fut = DROP_CONNECTION.scope(flag.clone(), self.inner.call(req));
        Box::pin(async move {
            let resp = fut.await.map_err(Into::into)?;
            if flag.load(Ordering::SeqCst) {
                return Err("injected fault: connection dropped".into());
            }
            Ok(resp)
        })
    }
}

#[derive(Default)]
struct Knobs {
    /// `f64` bits of the failure fraction.
    rate: AtomicU64,
    /// What a fault does: one of these, at random (empty: [`FaultKind::InternalError`]).
    kinds: Mutex<Vec<FaultKind>>,
    /// Calls still to fail unconditionally.
    fail_next: AtomicU64,
    /// Only `bucket/key` starting with this are eligible (None: all).
    prefix: Mutex<Option<String>>,
    calls: AtomicU64,
    injected: AtomicU64,
}

/// Fault-injection knobs shared with a running [`crate::LocalS3`] (pass them in
/// [`crate::Options::faults`] as an `Arc`).
pub struct Faults {
    ops: [Knobs; 6],
    /// SplitMix64 state: deterministic for a given seed and call order.
    rng: AtomicU64,
}

impl std::fmt::Debug for Faults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Faults");
        for op in Op::ALL {
            let k = &self.ops[op.index()];
            d.field(
                &format!("{op:?}"),
                &(
                    f64::from_bits(k.rate.load(Ordering::Relaxed)),
                    lock(&k.kinds).clone(),
                    k.calls.load(Ordering::Relaxed),
                ),
            );
        }
        d.finish()
    }
}

impl Default for Faults {
    fn default() -> Self {
        Faults::new(0)
    }
}

impl Faults {
    /// No faults configured; `seed` fixes the sequence of random draws.
    pub fn new(seed: u64) -> Self {
        Faults {
            ops: Default::default(),
            rng: AtomicU64::new(seed),
        }
    }

    fn knobs(&self, op: Op) -> &Knobs {
        &self.ops[op.index()]
    }

    /// Fail this fraction of `op` calls (clamped to `0.0..=1.0`; NaN means 0).
    pub fn set_rate(&self, op: Op, fraction: f64) {
        let f = if fraction.is_nan() {
            0.0
        } else {
            fraction.clamp(0.0, 1.0)
        };
        self.knobs(op).rate.store(f.to_bits(), Ordering::SeqCst);
    }

    /// What an injected fault on `op` does (default [`FaultKind::InternalError`]).
    pub fn set_kind(&self, op: Op, kind: FaultKind) {
        self.set_kinds(op, &[kind]);
    }

    /// Each injected fault on `op` does one of `kinds`, drawn at random (empty: the default,
    /// [`FaultKind::InternalError`]).
    pub fn set_kinds(&self, op: Op, kinds: &[FaultKind]) {
        *lock(&self.knobs(op).kinds) = kinds.to_vec();
    }

    /// Shorthand for [`set_kind`](Self::set_kind) and [`set_rate`](Self::set_rate).
    pub fn fail(&self, op: Op, fraction: f64, kind: FaultKind) {
        self.set_kind(op, kind);
        self.set_rate(op, fraction);
    }

    /// Fail exactly the next `n` eligible `op` calls with `kind`, whatever the rate.
    pub fn fail_next(&self, op: Op, n: u64, kind: FaultKind) {
        self.set_kind(op, kind);
        self.knobs(op).fail_next.store(n, Ordering::SeqCst);
    }

    /// Make only calls on objects whose `bucket/key` (for listings `bucket/prefix`) starts
    /// with `prefix` eligible for faults on `op`; `None` makes every call eligible again.
    pub fn only_prefix(&self, op: Op, prefix: Option<&str>) {
        *lock(&self.knobs(op).prefix) = prefix.map(str::to_owned);
    }

    /// Turn every fault off (rates, countdowns, prefixes); counters are kept.
    pub fn clear(&self) {
        for op in Op::ALL {
            self.set_rate(op, 0.0);
            self.set_kind(op, FaultKind::InternalError);
            self.knobs(op).fail_next.store(0, Ordering::SeqCst);
            self.only_prefix(op, None);
        }
    }

    /// Calls of `op` the server has seen (failed or not).
    pub fn calls(&self, op: Op) -> u64 {
        self.knobs(op).calls.load(Ordering::SeqCst)
    }

    /// Faults injected into `op` calls so far (delays included).
    pub fn injected(&self, op: Op) -> u64 {
        self.knobs(op).injected.load(Ordering::SeqCst)
    }

    /// Zero the call and injection counters.
    pub fn reset_counters(&self) {
        for op in Op::ALL {
            self.knobs(op).calls.store(0, Ordering::SeqCst);
            self.knobs(op).injected.store(0, Ordering::SeqCst);
        }
    }

    /// A uniform draw in `[0, 1)` (SplitMix64).
    fn next_unit(&self) -> f64 {
        const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut z = self
            .rng
            .fetch_add(GAMMA, Ordering::SeqCst)
            .wrapping_add(GAMMA);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Whether this call gets a fault, and which.
    fn decide(&self, op: Op, target: &str) -> Option<FaultKind> {
        let k = self.knobs(op);
        k.calls.fetch_add(1, Ordering::SeqCst);
        let eligible = lock(&k.prefix)
            .as_deref()
            .is_none_or(|p| target.starts_with(p));
        if !eligible {
            return None;
        }
        let countdown = k
            .fail_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        let hit = countdown || {
            let rate = f64::from_bits(k.rate.load(Ordering::SeqCst));
            rate > 0.0 && self.next_unit() < rate
        };
        if !hit {
            return None;
        }
        k.injected.fetch_add(1, Ordering::SeqCst);
        let kinds = lock(&k.kinds);
        let kind = match kinds.len() {
            0 => FaultKind::InternalError,
            1 => kinds[0],
            n => kinds[((self.next_unit() * n as f64) as usize).min(n - 1)],
        };
        Some(kind)
    }

    /// Called by the server before forwarding `op` on `bucket/key`: an error to answer
    /// with, or `Ok` (possibly after a delay) to go on. Every injected fault is logged at
    /// error level as `fault injected: {op:?} {bucket/key} {kind}` (tests count these lines).
    pub(crate) async fn before(&self, op: Op, bucket: &str, key: &str) -> S3Result<()> {
        let target = format!("{bucket}/{key}");
        let Some(kind) = self.decide(op, &target) else {
            return Ok(());
        };
        tracing::error!("fault injected: {op:?} {target} {}", kind.name());
        match kind {
            FaultKind::Delay(d) => {
                tokio::time::sleep(d).await;
                Ok(())
            }
            FaultKind::SlowDown => Err(S3Error::with_message(
                S3ErrorCode::SlowDown,
                format!("injected fault: {op:?} {target}"),
            )),
            FaultKind::InternalError => Err(S3Error::with_message(
                S3ErrorCode::InternalError,
                format!("injected fault: {op:?} {target}"),
            )),
            FaultKind::Drop => {
                drop_connection();
                Err(dropped(op, &target))
            }
            FaultKind::DropAfter => {
                drop_connection();
                Ok(())
            }
            FaultKind::Hang(d) => {
                tokio::time::sleep(d).await;
                drop_connection();
                Err(dropped(op, &target))
            }
        }
    }
}

/// Lock, ignoring poisoning (the knobs stay usable after a panicking test thread).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

impl Faults {
    /// Faults from a test's text spec (what `fitbox serve` reads from `FITBOX_FAULTS`):
    /// `get=0.15,put=0.1,copy=0.1,delete=0.1,head=0,list=0,seed=7` fails that fraction of each
    /// operation; `kind=` picks what a fault does, one of several joined by `+` at random:
    /// `500`, `503` (SlowDown), `drop` (connection closed, no answer), `drop-after` (closed
    /// after the operation took effect), `hang:MS` (silent for MS ms, then closed), `delay:MS`
    /// (answered late), e.g. `kind=500+drop+drop-after+hang:3000`. The default kind is `500`.
    pub fn from_spec(spec: &str) -> Result<Faults, String> {
        let mut rates = Vec::new();
        let (mut seed, mut kinds) = (0u64, vec![FaultKind::InternalError]);
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| format!("{part:?} is not NAME=VALUE"))?;
            let op = match k {
                "get" => Op::Get,
                "put" => Op::Put,
                "copy" => Op::Copy,
                "delete" => Op::Delete,
                "head" => Op::Head,
                "list" => Op::List,
                "seed" => {
                    seed = v.parse().map_err(|_| format!("seed {v:?}"))?;
                    continue;
                }
                "kind" => {
                    kinds = v
                        .split('+')
                        .map(FaultKind::parse)
                        .collect::<Result<Vec<_>, _>>()?;
                    continue;
                }
                _ => return Err(format!("unknown name {k:?}")),
            };
            let rate: f64 = v
                .parse()
                .ok()
                .filter(|r| (0.0..=1.0).contains(r))
                .ok_or_else(|| format!("{k} must be a fraction 0..=1, got {v:?}"))?;
            rates.push((op, rate));
        }
        let faults = Faults::new(seed);
        for (op, rate) in rates {
            faults.set_kinds(op, &kinds);
            faults.set_rate(op, rate);
        }
        Ok(faults)
    }
}

impl FaultKind {
    /// One `kind=` word of [`Faults::from_spec`].
    pub fn parse(word: &str) -> Result<FaultKind, String> {
        let ms = |v: &str| {
            v.parse()
                .map(Duration::from_millis)
                .map_err(|_| format!("{word:?} needs milliseconds"))
        };
        Ok(match word.split_once(':') {
            None if word == "500" => FaultKind::InternalError,
            None if word == "503" => FaultKind::SlowDown,
            None if word == "drop" => FaultKind::Drop,
            None if word == "drop-after" => FaultKind::DropAfter,
            Some(("hang", v)) => FaultKind::Hang(ms(v)?),
            Some(("delay", v)) => FaultKind::Delay(ms(v)?),
            _ => {
                return Err(format!(
                    "unknown kind {word:?} (500, 503, drop, drop-after, hang:MS, delay:MS)"
                ))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_or_name_what_is_wrong() {
        let f = Faults::from_spec("get=1,put=0, seed=7,kind=503").unwrap();
        assert_eq!(f.decide(Op::Get, "b/k"), Some(FaultKind::SlowDown));
        assert_eq!(f.decide(Op::Put, "b/k"), None);
        let f = Faults::from_spec("kind=hang:250,copy=1").unwrap();
        assert_eq!(
            f.decide(Op::Copy, "b/k"),
            Some(FaultKind::Hang(Duration::from_millis(250)))
        );
        assert_eq!(
            FaultKind::parse("delay:5"),
            Ok(FaultKind::Delay(Duration::from_millis(5)))
        );
        for (spec, says) in [
            ("get", "is not NAME=VALUE"),
            ("get=2", "fraction 0..=1"),
            ("post=0.1", "unknown name"),
            ("seed=x", "seed"),
            ("kind=hang:x", "needs milliseconds"),
            ("kind=teapot", "unknown kind"),
        ] {
            let e = Faults::from_spec(spec).unwrap_err();
            assert!(e.contains(says), "{spec}: {e}");
        }
    }

    #[test]
    fn several_kinds_are_all_drawn() {
        let f = Faults::new(3);
        let kinds = [
            FaultKind::InternalError,
            FaultKind::Drop,
            FaultKind::DropAfter,
        ];
        f.fail(Op::Get, 1.0, FaultKind::SlowDown);
        assert_eq!(f.decide(Op::Get, "b/k"), Some(FaultKind::SlowDown));
        f.set_kinds(Op::Get, &kinds);
        let drawn: Vec<_> = (0..300).filter_map(|_| f.decide(Op::Get, "b/k")).collect();
        assert_eq!(drawn.len(), 300);
        for k in kinds {
            let n = drawn.iter().filter(|d| **d == k).count();
            assert!((60..140).contains(&n), "{k:?} drawn {n} of 300");
        }
    }

    #[test]
    fn rate_is_deterministic_and_roughly_right() {
        let draw = |seed| {
            let f = Faults::new(seed);
            f.set_rate(Op::Get, 0.3);
            (0..1000)
                .map(|_| f.decide(Op::Get, "b/k").is_some())
                .collect::<Vec<_>>()
        };
        let a = draw(7);
        assert_eq!(a, draw(7));
        assert_ne!(a, draw(8));
        let hits = a.iter().filter(|h| **h).count();
        assert!((230..370).contains(&hits), "{hits} of 1000 at rate 0.3");
    }

    #[test]
    fn countdown_and_prefix() {
        let f = Faults::new(1);
        f.fail_next(Op::Put, 2, FaultKind::SlowDown);
        f.only_prefix(Op::Put, Some("resized/"));
        assert_eq!(f.decide(Op::Put, "uploads/x"), None);
        assert_eq!(f.decide(Op::Put, "resized/a"), Some(FaultKind::SlowDown));
        assert_eq!(f.decide(Op::Put, "resized/b"), Some(FaultKind::SlowDown));
        assert_eq!(f.decide(Op::Put, "resized/c"), None);
        assert_eq!(f.calls(Op::Put), 4);
        assert_eq!(f.injected(Op::Put), 2);
        assert_eq!(f.calls(Op::Get), 0);
        f.set_rate(Op::Head, 1.0);
        assert!(f.decide(Op::Head, "x/y").is_some());
        f.clear();
        assert!(f.decide(Op::Head, "x/y").is_none());
    }
}
