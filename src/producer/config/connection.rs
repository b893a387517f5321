//! How the client instance connects: connect timeout, reconnect policy, the
//! connections' own arbiter, ACL signing and TLS (one [`InstanceConfig`]
//! part, shared by the broker and name-server connections).
//!
//! [`InstanceConfig`]: crate::runtime::instance::InstanceConfig
use std::time::Duration;

use super::ProducerConfigBuilder;
use crate::protocol::acl::AclCredentials;
use crate::runtime::{ReconnectPolicy, TlsConfig};

impl ProducerConfigBuilder {
    /// Sets the TCP connect timeout (> 0).
    ///
    /// ```
    /// use std::time::Duration;
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g").connect_timeout(Duration::from_secs(1)).build()?;
    /// assert_eq!(c.connect_timeout().as_secs(), 1);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.instance.connection.connect_timeout = timeout;
        self
    }

    /// When a connection may be tried again after a failed connect, or after a
    /// connection died before its first answer or on undecodable bytes
    /// (default: 100 ms doubling to 3 s, ±20 % jitter), per broker and name server.
    ///
    /// ```
    /// use std::time::Duration;
    /// use actix_rocketmq::{ProducerConfig, ReconnectPolicy};
    /// let c = ProducerConfig::builder("g")
    ///     .reconnect_policy(ReconnectPolicy::new(Duration::from_millis(50), Duration::from_secs(10)))
    ///     .build()?;
    /// # let _ = c;
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn reconnect_policy(mut self, policy: ReconnectPolicy) -> Self {
        if policy.base.is_zero() || policy.max < policy.base {
            self.errors.push(format!(
                "reconnect_policy: base {:?} must be > 0 and <= max {:?}",
                policy.base, policy.max
            ));
        }
        // build() hands the same connection settings to the name-server connections.
        self.config.instance.connection.reconnect = policy;
        self
    }

    /// Runs the broker connections (socket reads, writes, framing) on an arbiter
    /// of their own, a second thread, instead of the producer's. Producers that
    /// share a client instance share that arbiter. See the `send` benchmark for
    /// the trade-off on a 2-core machine.
    pub fn connection_arbiter(mut self, enable: bool) -> Self {
        self.config.instance.connection_arbiter = enable;
        self
    }

    /// Signs every request with these credentials (Java `AclClientRPCHook`):
    /// for brokers and name servers that require authentication. Producers with
    /// different access keys never share a client instance.
    ///
    /// ```
    /// use actix_rocketmq::AclCredentials;
    /// let c = actix_rocketmq::ProducerConfig::builder("g")
    ///     .acl_credentials(AclCredentials::new("rocketmq", "12345678"))
    ///     .build()?;
    /// assert_eq!(c.acl_credentials().unwrap().access_key(), "rocketmq");
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn acl_credentials(mut self, credentials: AclCredentials) -> Self {
        self.config.instance.connection.acl = Some(credentials);
        self
    }

    /// Speaks TLS on every connection, to name servers and brokers (Java
    /// `useTLS`); see [`TlsConfig`] for how certificates are checked. Producers
    /// with and without TLS never share a client instance.
    ///
    /// ```
    /// use actix_rocketmq::TlsConfig;
    /// use actix_rocketmq::internals::runtime::tls::rustls::RootCertStore;
    /// let roots = RootCertStore::empty(); // add your CA certificates
    /// let c = actix_rocketmq::ProducerConfig::builder("g")
    ///     .tls(TlsConfig::with_roots(roots).server_name("broker.example.com")?)
    ///     .build()?;
    /// assert!(c.tls().is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn tls(mut self, tls: TlsConfig) -> Self {
        self.config.instance.connection.tls = Some(tls);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::producer::config::ProducerConfig;

    #[test]
    fn the_reconnect_policy_reaches_broker_and_name_server_connections() {
        let p = ReconnectPolicy::new(Duration::from_millis(50), Duration::from_secs(10));
        let c = ProducerConfig::builder("g")
            .reconnect_policy(p.clone())
            .build()
            .unwrap();
        assert_eq!(c.instance.connection.reconnect, p);
        assert_eq!(c.instance.route.connection.reconnect, p);
        let bad = ReconnectPolicy::new(Duration::ZERO, Duration::from_secs(1));
        let err = ProducerConfig::builder("g")
            .reconnect_policy(bad)
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("reconnect_policy"), "{err}");
    }
}
