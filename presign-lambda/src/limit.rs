//! Per-caller limits on upload tickets: every ticket starts a PUT and a resize, so a client
//! asking for thousands of them runs up the owner's bill. Each client address, and each
//! signed-in caller, gets [`Config::rate_limit_per_minute`](crate::Config) tickets a minute
//! (GCRA from the `governor` crate: a full minute's worth may come at once, then they come
//! back steadily); an array body counts one per file. Beyond it the answer is
//! `429 rate_limited` with `Retry-After`.
//!
//! Where the client address comes from ([`ClientAddress`]): the TCP peer (`fitbox serve`, which
//! puts it in the request's extensions); behind CloudFront and API Gateway (the template), the
//! entry CloudFront appended to `X-Forwarded-For`, told apart from the one the gateway may append
//! by the gateway's own `sourceIp`; or, behind other proxies that append to `X-Forwarded-For`,
//! the entry a set number of places from the end. Entries before the one taken are whatever the
//! client sent and are never used.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::http::HeaderMap;
use governor::clock::Clock as _;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::auth::Caller;
use crate::error::ApiError;

/// Default tickets per minute per client address and per caller.
pub const DEFAULT_PER_MINUTE: u32 = 120;

/// How the client's address is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAddress {
    /// The connection's peer (a [`SocketAddr`] request extension, which `fitbox serve` adds).
    Peer,
    /// The `n`th address from the end of `X-Forwarded-For` (`n` trusted proxies append to it).
    ForwardedFor(u8),
    /// Behind CloudFront and API Gateway: the address CloudFront appended to `X-Forwarded-For`
    /// (the viewer's). That is the last entry, or the one before it when the last is the
    /// gateway's own view of the connection (its request context's `sourceIp`, CloudFront's
    /// address), which API Gateway appends; so it holds whether the gateway appends or not.
    /// Entries before it are whatever the client sent and are never used.
    CloudFront,
}

impl ClientAddress {
    /// `peer`, `cloudfront` or `x-forwarded-for:N` (N in 1..=10).
    pub fn parse(s: &str) -> Option<ClientAddress> {
        match s {
            "peer" => return Some(ClientAddress::Peer),
            "cloudfront" => return Some(ClientAddress::CloudFront),
            _ => {}
        }
        let n: u8 = s.strip_prefix("x-forwarded-for:")?.parse().ok()?;
        (1..=10)
            .contains(&n)
            .then_some(ClientAddress::ForwardedFor(n))
    }

    /// The client's address for a request, `None` when it cannot be told (then the request is
    /// limited under one shared "unknown" key, so it cannot escape the limit).
    pub fn of(self, headers: &HeaderMap, extensions: &axum::http::Extensions) -> Option<IpAddr> {
        match self {
            ClientAddress::Peer => extensions.get::<SocketAddr>().map(SocketAddr::ip),
            ClientAddress::ForwardedFor(n) => {
                let all = forwarded_for(headers);
                let i = all.len().checked_sub(usize::from(n))?;
                all[i].parse().ok()
            }
            ClientAddress::CloudFront => {
                let mut all = forwarded_for(headers);
                let gateway_saw = gateway_source_ip(extensions);
                if gateway_saw.is_some() && all.last().and_then(|a| a.parse().ok()) == gateway_saw {
                    all.pop();
                }
                all.last()?.parse().ok()
            }
        }
    }
}

/// The entries of every `X-Forwarded-For` header, in order.
fn forwarded_for(headers: &HeaderMap) -> Vec<&str> {
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect()
}

/// The source address API Gateway saw (the request context `lambda_http` puts in the request's
/// extensions: `requestContext.http.sourceIp` of an HTTP API, `identity.sourceIp` of a REST API).
fn gateway_source_ip(extensions: &axum::http::Extensions) -> Option<IpAddr> {
    use lambda_http::request::RequestContext;
    let ip = match extensions.get::<RequestContext>()? {
        RequestContext::ApiGatewayV2(c) => c.http.source_ip.as_deref(),
        RequestContext::ApiGatewayV1(c) => c.identity.source_ip.as_deref(),
        _ => None,
    };
    ip?.parse().ok()
}

/// The limiters: one for addresses, one for callers.
pub struct Limits {
    addresses: DefaultKeyedRateLimiter<String>,
    callers: DefaultKeyedRateLimiter<String>,
    source: ClientAddress,
    checks: AtomicU64,
}

impl std::fmt::Debug for Limits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limits")
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl Limits {
    /// `per_minute` tickets a minute per address and per caller; `None` when 0 (no limit).
    pub fn new(per_minute: u32, source: ClientAddress) -> Option<Limits> {
        let n = NonZeroU32::new(per_minute)?;
        let quota = Quota::per_minute(n);
        Some(Limits {
            addresses: RateLimiter::keyed(quota),
            callers: RateLimiter::keyed(quota),
            source,
            checks: AtomicU64::new(0),
        })
    }

    /// Take `files` tickets for this request's client (and caller), or say how long to wait.
    pub fn take(
        &self,
        headers: &HeaderMap,
        extensions: &axum::http::Extensions,
        caller: Option<&Caller>,
        files: usize,
    ) -> Result<(), ApiError> {
        // Forget clients idle for a minute now and then, so the maps stay small.
        if self.checks.fetch_add(1, Ordering::Relaxed) % 1024 == 1023 {
            self.addresses.retain_recent();
            self.callers.retain_recent();
        }
        let n = NonZeroU32::new(u32::try_from(files.max(1)).unwrap_or(u32::MAX))
            .unwrap_or(NonZeroU32::MIN);
        let address = self
            .source
            .of(headers, extensions)
            .map_or_else(|| "unknown".to_string(), |a| a.to_string());
        take(&self.addresses, &address, n)?;
        if let Some(c) = caller {
            take(&self.callers, &c.owner, n)?;
        }
        Ok(())
    }
}

fn take(
    limiter: &DefaultKeyedRateLimiter<String>,
    key: &String,
    n: NonZeroU32,
) -> Result<(), ApiError> {
    match limiter.check_key_n(key, n) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(not_until)) => {
            let wait = not_until.wait_time_from(limiter.clock().now());
            Err(ApiError::RateLimited {
                retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
            })
        }
        // More files in one request than a minute's allowance: never possible at once.
        Err(_) => Err(ApiError::RateLimited {
            retry_after_secs: Duration::from_secs(60).as_secs(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn xff(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", v.parse().expect("value"));
        h
    }

    #[test]
    fn the_address_is_the_one_the_first_trusted_proxy_saw() {
        let ext = axum::http::Extensions::new();
        let two = ClientAddress::parse("x-forwarded-for:2").expect("parse");
        // CloudFront appends the viewer, API Gateway appends CloudFront.
        assert_eq!(
            two.of(&xff("203.0.113.9, 130.176.0.1"), &ext),
            Some("203.0.113.9".parse().expect("ip"))
        );
        // Whatever the client sent itself stays in front and is never used.
        assert_eq!(
            two.of(&xff("1.1.1.1, 203.0.113.9, 130.176.0.1"), &ext),
            Some("203.0.113.9".parse().expect("ip"))
        );
        assert_eq!(two.of(&xff("130.176.0.1"), &ext), None);
        assert_eq!(two.of(&HeaderMap::new(), &ext), None);
        let mut ext = axum::http::Extensions::new();
        ext.insert::<SocketAddr>("127.0.0.1:5000".parse().expect("addr"));
        assert_eq!(
            ClientAddress::Peer.of(&xff("9.9.9.9"), &ext),
            Some("127.0.0.1".parse().expect("ip"))
        );
        for bad in [
            "",
            "peers",
            "x-forwarded-for:0",
            "x-forwarded-for:11",
            "x-forwarded-for",
        ] {
            assert_eq!(ClientAddress::parse(bad), None, "{bad}");
        }
    }

    /// The viewer's address behind CloudFront, whether API Gateway appended CloudFront's own
    /// after it or not; what the client wrote itself is never taken.
    #[test]
    fn behind_cloudfront_the_address_is_the_one_cloudfront_appended() {
        let cf = ClientAddress::parse("cloudfront").expect("parse");
        let viewer: IpAddr = "203.0.113.9".parse().expect("ip");
        let gateway = |source: &str| {
            let mut c =
                lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequestContext::default();
            c.http.source_ip = Some(source.into());
            let mut ext = axum::http::Extensions::new();
            ext.insert(lambda_http::request::RequestContext::ApiGatewayV2(c));
            ext
        };
        let ext = gateway("130.176.0.1");
        for header in [
            "203.0.113.9, 130.176.0.1",
            "1.1.1.1, 203.0.113.9, 130.176.0.1",
            // A gateway that does not append: the last entry is CloudFront's.
            "1.1.1.1, 203.0.113.9",
            "203.0.113.9",
        ] {
            assert_eq!(cf.of(&xff(header), &ext), Some(viewer), "{header}");
        }
        // A client writing the gateway's address itself gains nothing: CloudFront's entry
        // (its real address) still comes last, before the gateway's.
        assert_eq!(
            cf.of(&xff("130.176.0.1, 198.51.100.7, 130.176.0.1"), &ext),
            Some("198.51.100.7".parse().expect("ip"))
        );
        assert_eq!(cf.of(&HeaderMap::new(), &ext), None);
        assert_eq!(cf.of(&xff("130.176.0.1"), &ext), None);
        // No request context (not behind API Gateway): the last entry.
        assert_eq!(
            cf.of(&xff("1.1.1.1, 203.0.113.9"), &axum::http::Extensions::new()),
            Some(viewer)
        );
    }

    #[test]
    fn a_burst_of_a_minutes_worth_then_429_with_a_wait() {
        let limits = Limits::new(10, ClientAddress::ForwardedFor(1)).expect("limits");
        let ext = axum::http::Extensions::new();
        let (a, b) = (xff("203.0.113.1"), xff("203.0.113.2"));
        limits.take(&a, &ext, None, 4).expect("4 files");
        for _ in 0..6 {
            limits
                .take(&a, &ext, None, 1)
                .expect("within the minute's allowance");
        }
        match limits.take(&a, &ext, None, 1) {
            Err(ApiError::RateLimited { retry_after_secs }) => {
                assert!((1..=6).contains(&retry_after_secs), "{retry_after_secs}")
            }
            other => panic!("{other:?}"),
        }
        limits
            .take(&b, &ext, None, 1)
            .expect("another address is served");
        assert!(Limits::new(0, ClientAddress::Peer).is_none());
        // A batch larger than a minute's allowance can never pass.
        assert!(matches!(
            limits.take(&b, &ext, None, 11),
            Err(ApiError::RateLimited { .. })
        ));
    }
}
