//! Who this client is to the brokers: the client id `ip@instanceName[@unitName]`,
//! the instance name (`DEFAULT` made unique per producer), and the client IP
//! (set, else from `ROCKETMQ_CLIENT_IP`, else this host's outgoing address).
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::protocol::validation::CLIENT_INNER_PRODUCER_GROUP;

/// The Java default instance name, replaced by `pid#nanos` when a producer starts.
pub const DEFAULT_INSTANCE_NAME: &str = "DEFAULT";
/// Environment variable overriding the client IP (default: this host's outgoing address).
pub const CLIENT_IP_ENV: &str = "ROCKETMQ_CLIENT_IP";

/// The client IP from the `ROCKETMQ_CLIENT_IP` value, else `probe()`, else 127.0.0.1.
pub(super) fn resolve_client_ip(
    env: Option<&str>,
    probe: impl FnOnce() -> Option<IpAddr>,
) -> IpAddr {
    env.and_then(|v| v.trim().parse().ok())
        .or_else(probe)
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

/// The client IP from the environment (`ROCKETMQ_CLIENT_IP`), else [`local_address`], else 127.0.0.1.
pub(super) fn client_ip_from_env() -> IpAddr {
    resolve_client_ip(std::env::var(CLIENT_IP_ENV).ok().as_deref(), local_address)
}

/// This host's outgoing address: the source address the routing table picks
/// for a packet to a documentation address (IPv4 `192.0.2.1`, else IPv6
/// `2001:db8::1`), or `None` when there is no route (no network, a sandbox).
///
/// A UDP socket is connected and its local address read; connecting a UDP
/// socket only chooses the route, so nothing is sent and no DNS is asked.
/// Loopback and unspecified addresses count as none.
///
/// ```
/// use actix_rocketmq::producer::config::local_address;
/// if let Some(ip) = local_address() {
///     assert!(!ip.is_loopback() && !ip.is_unspecified());
/// }
/// ```
pub fn local_address() -> Option<IpAddr> {
    let probes: [(SocketAddr, SocketAddr); 2] = [
        (
            (Ipv4Addr::UNSPECIFIED, 0).into(),
            (Ipv4Addr::new(192, 0, 2, 1), 9).into(),
        ),
        (
            (Ipv6Addr::UNSPECIFIED, 0).into(),
            (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1), 9).into(),
        ),
    ];
    probes.into_iter().find_map(|(bind, target)| {
        let socket = UdpSocket::bind(bind).ok()?;
        socket.connect(target).ok()?;
        let ip = socket.local_addr().ok()?.ip();
        (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
    })
}

/// Java `changeInstanceNameToPID` (4.9+): `DEFAULT` becomes `pid#nanos` unless the group is
/// the Java client's inner producer group.
///
/// ```
/// use actix_rocketmq::producer::config::instance_name_for_start;
/// assert_eq!(instance_name_for_start("mine", "g"), "mine");
/// assert_eq!(instance_name_for_start("DEFAULT", "CLIENT_INNER_PRODUCER"), "DEFAULT");
/// let fixed = instance_name_for_start("DEFAULT", "g");
/// assert!(fixed.starts_with(&format!("{}#", std::process::id())));
/// ```
pub fn instance_name_for_start(instance_name: &str, group: &str) -> String {
    if instance_name != DEFAULT_INSTANCE_NAME || group == CLIENT_INNER_PRODUCER_GROUP {
        return instance_name.to_owned();
    }
    format!("{}#{}", std::process::id(), unique_nanos())
}

/// Wall-clock nanoseconds, strictly increasing within the process so two producers never share a name.
fn unique_nanos() -> u64 {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0);
    let mut last = LAST.load(Ordering::Relaxed);
    loop {
        let next = now.max(last.saturating_add(1));
        match LAST.compare_exchange_weak(last, next, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return next,
            Err(seen) => last = seen,
        }
    }
}

/// `ip@instanceName[@unitName]`, Java `ClientConfig.buildMQClientId` (blank unit omitted).
///
/// ```
/// use std::net::{IpAddr, Ipv4Addr};
/// use actix_rocketmq::producer::config::build_client_id;
/// let ip = IpAddr::V4(Ipv4Addr::new(192, 168, 1, 2));
/// assert_eq!(build_client_id(ip, "1234#99", None), "192.168.1.2@1234#99");
/// assert_eq!(build_client_id(ip, "i", Some("u")), "192.168.1.2@i@u");
/// ```
pub fn build_client_id(ip: IpAddr, instance_name: &str, unit_name: Option<&str>) -> String {
    match unit_name.filter(|u| !u.trim().is_empty()) {
        Some(unit) => format!("{ip}@{instance_name}@{unit}"),
        None => format!("{ip}@{instance_name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::producer::config::ProducerConfig;

    #[test]
    fn config_client_ip_and_id() {
        let probed = IpAddr::V4(Ipv4Addr::new(172, 16, 0, 5));
        let no_route = || None;
        assert_eq!(
            resolve_client_ip(None, no_route),
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        );
        assert_eq!(resolve_client_ip(None, || Some(probed)), probed);
        // The environment wins over the probe; a bad value falls through to it.
        assert_eq!(
            resolve_client_ip(Some(" 10.1.2.3 "), || Some(probed)),
            IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3))
        );
        assert_eq!(
            resolve_client_ip(Some("not-an-ip"), || Some(probed)),
            probed
        );
        assert_eq!(
            resolve_client_ip(Some("not-an-ip"), no_route),
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        );
        // Whatever this machine's network, building never fails and the probe
        // never yields a loopback or unspecified address.
        if let Some(ip) = local_address() {
            assert!(!ip.is_loopback() && !ip.is_unspecified(), "{ip}");
        }
        if std::env::var(CLIENT_IP_ENV).is_err() {
            let c = ProducerConfig::builder("g").build().unwrap();
            let expected = local_address().unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
            assert_eq!(c.client_ip(), expected);
        }
        let c = ProducerConfig::builder("g")
            .client_ip(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 9)))
            .build()
            .unwrap();
        let pid = std::process::id();
        let id = c.client_id();
        assert!(id.starts_with(&format!("10.0.0.9@{pid}#")), "{id}");
        // The id is fixed at build time, not regenerated per call.
        assert_eq!(id, c.client_id());
        let other = ProducerConfig::builder("g").build().unwrap();
        assert_ne!(c.instance_name(), other.instance_name());
        assert_eq!(build_client_id(c.client_ip(), "i", Some(" ")), "10.0.0.9@i");
    }
}
