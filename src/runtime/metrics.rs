//! The runtime's metrics (feature `metrics`, through the `metrics` facade):
//! connections, route look-ups, heartbeats. Each is a one-liner at its call
//! site and compiles to nothing without the feature; README lists them all.
#![cfg_attr(not(feature = "metrics"), allow(dead_code))]
#[cfg(feature = "metrics")]
use metrics::counter;

/// Connections open now, by remote address (gauge).
pub const CONNECTIONS_OPEN: &str = "rocketmq_connections_open";
/// Connections opened (the first and every reconnect), by remote address.
pub const CONNECTS: &str = "rocketmq_connects_total";
/// Connections opened again after one was lost, by remote address.
pub const RECONNECTS: &str = "rocketmq_reconnects_total";
/// Connect attempts that failed, by remote address.
pub const CONNECT_FAILURES: &str = "rocketmq_connect_failures_total";
/// Open connections that broke (closed, reset, dead peer), by remote address.
pub const DISCONNECTS: &str = "rocketmq_disconnects_total";
/// Route look-ups from the name servers, by topic and result.
pub const ROUTE_LOOKUPS: &str = "rocketmq_route_lookups_total";
/// Name-server requests that failed, by name server and reason.
pub const NAMESRV_FAILURES: &str = "rocketmq_namesrv_failures_total";
/// Heartbeats sent to brokers, by broker address and result.
pub const HEARTBEATS: &str = "rocketmq_heartbeats_total";

/// A connection to `remote` opened (`reconnect`: not its first).
#[inline]
pub(crate) fn connected(remote: &std::sync::Arc<str>, reconnect: bool) {
    let _ = (remote, reconnect);
    #[cfg(feature = "metrics")]
    {
        let remote = metrics::SharedString::from(remote.clone());
        counter!(CONNECTS, "remote" => remote.clone()).increment(1);
        if reconnect {
            counter!(RECONNECTS, "remote" => remote.clone()).increment(1);
        }
        metrics::gauge!(CONNECTIONS_OPEN, "remote" => remote).increment(1.0);
    }
}

/// An open connection to `remote` closed or broke (`broke`: not an orderly close).
#[inline]
pub(crate) fn disconnected(remote: &std::sync::Arc<str>, broke: bool) {
    let _ = (remote, broke);
    #[cfg(feature = "metrics")]
    {
        let remote = metrics::SharedString::from(remote.clone());
        if broke {
            counter!(DISCONNECTS, "remote" => remote.clone()).increment(1);
        }
        metrics::gauge!(CONNECTIONS_OPEN, "remote" => remote).decrement(1.0);
    }
}

/// A connect to `remote` failed.
#[inline]
pub(crate) fn connect_failed(remote: &std::sync::Arc<str>) {
    let _ = remote;
    #[cfg(feature = "metrics")]
    counter!(CONNECT_FAILURES, "remote" => metrics::SharedString::from(remote.clone()))
        .increment(1);
}

/// A route look-up of `topic` ended (`ok`: a usable route came back).
#[inline]
pub(crate) fn route_lookup(topic: &str, ok: bool) {
    let _ = (topic, ok);
    #[cfg(feature = "metrics")]
    counter!(ROUTE_LOOKUPS, "topic" => topic.to_owned(), "result" => if ok { "ok" } else { "failed" })
        .increment(1);
}

/// A request to the name server `namesrv` failed: `unreachable`, `rejected` or `malformed`.
#[inline]
pub(crate) fn namesrv_failure(namesrv: &str, reason: &'static str) {
    let _ = (namesrv, reason);
    #[cfg(feature = "metrics")]
    counter!(NAMESRV_FAILURES, "namesrv" => namesrv.to_owned(), "reason" => reason).increment(1);
}

/// A heartbeat to the broker at `broker` ended: `ok`, `rejected` or `failed`.
#[inline]
pub(crate) fn heartbeat(broker: &str, result: &'static str) {
    let _ = (broker, result);
    #[cfg(feature = "metrics")]
    counter!(HEARTBEATS, "broker" => broker.to_owned(), "result" => result).increment(1);
}
