//! Where the name servers are: `host:port;host:port` lists as Java writes
//! them, and the `NAMESRV_ADDR` environment variable when none is configured.
use std::time::Duration;

use super::ProducerConfigBuilder;
use crate::error::Error;
use crate::runtime::RouteError;
use crate::runtime::namesrv_http::{
    self, AddrServerConfig, DEFAULT_DOMAIN, DEFAULT_SUBGROUP, DOMAIN_ENV, SUBGROUP_ENV,
};

/// Environment variable holding the name server list when none is configured.
pub const NAMESRV_ADDR_ENV: &str = "NAMESRV_ADDR";

/// Parses a `host:port;host:port` name server list; blanks between `;` are skipped.
///
/// ```
/// use actix_rocketmq::producer::config::parse_namesrv_addrs;
/// assert_eq!(parse_namesrv_addrs("a:1; b:2;").unwrap(), ["a:1", "b:2"]);
/// assert!(parse_namesrv_addrs("a").is_err());
/// ```
pub fn parse_namesrv_addrs(list: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for entry in list.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        let valid = entry
            .rsplit_once(':')
            .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok());
        if !valid {
            return Err(format!(
                "name server address `{entry}` is not `host:port`; use e.g. `127.0.0.1:9876`"
            ));
        }
        out.push(entry.to_owned());
    }
    Ok(out)
}

/// The configured name servers, else those of `env` (the `NAMESRV_ADDR` value);
/// none at all is [`RouteError::NoNameServer`].
pub(super) fn resolve_namesrv_addrs(
    configured: &[String],
    env: Option<&str>,
) -> Result<Vec<String>, Error> {
    if !configured.is_empty() {
        return Ok(configured.to_vec());
    }
    let list = match env {
        Some(v) => {
            parse_namesrv_addrs(v).map_err(|e| Error::config(format!("{NAMESRV_ADDR_ENV}: {e}")))?
        }
        None => Vec::new(),
    };
    if list.is_empty() {
        return Err(RouteError::NoNameServer.into());
    }
    Ok(list)
}

/// The address-server settings as set on the builder (Java `TopAddressing`):
/// asked for the name-server list when none is configured.
#[derive(Debug, Clone)]
pub(crate) struct NamesrvHttp {
    pub(crate) domain: Option<String>,
    pub(crate) subgroup: Option<String>,
    pub(crate) endpoint: Option<String>,
    pub(crate) interval: Duration,
    pub(crate) timeout: Duration,
}

impl Default for NamesrvHttp {
    fn default() -> Self {
        NamesrvHttp {
            domain: None,
            subgroup: None,
            endpoint: None,
            interval: namesrv_http::DEFAULT_INTERVAL,
            timeout: namesrv_http::DEFAULT_TIMEOUT,
        }
    }
}

/// The address server to ask, and whether it was asked for (a setter or the
/// environment) rather than the default `jmenv.tbsite.net` (either way a start
/// that gets no list from it fails). A full endpoint wins, then the builder's domain
/// and subgroup, then `NAMESRV_DOMAIN` / `NAMESRV_DOMAIN_SUBGROUP`.
pub(super) fn resolve_addr_server(
    s: &NamesrvHttp,
    domain_env: Option<&str>,
    subgroup_env: Option<&str>,
) -> (AddrServerConfig, bool) {
    let blank_none = |v: Option<&str>| {
        v.map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let domain = s.domain.clone().or_else(|| blank_none(domain_env));
    let subgroup = s.subgroup.clone().or_else(|| blank_none(subgroup_env));
    let explicit = s.endpoint.is_some() || domain.is_some() || subgroup.is_some();
    let url = s.endpoint.clone().unwrap_or_else(|| {
        namesrv_http::ws_addr(
            domain.as_deref().unwrap_or(DEFAULT_DOMAIN),
            subgroup.as_deref().unwrap_or(DEFAULT_SUBGROUP),
        )
    });
    let cfg = AddrServerConfig {
        url,
        timeout: s.timeout,
        interval: s.interval,
    };
    (cfg, explicit)
}

/// [`resolve_addr_server`] with this process's environment.
pub(super) fn resolve_addr_server_env(s: &NamesrvHttp) -> (AddrServerConfig, bool) {
    resolve_addr_server(
        s,
        std::env::var(DOMAIN_ENV).ok().as_deref(),
        std::env::var(SUBGROUP_ENV).ok().as_deref(),
    )
}

/// Where the name servers come from: a list, or the address server over HTTP.
impl ProducerConfigBuilder {
    /// Adds name servers from a `host:port;host:port` list (may be called repeatedly).
    /// With none added, `NAMESRV_ADDR` is used, else the address server is asked
    /// at start; a start that finds no name server at all fails with a `Config`
    /// error naming the URL tried and why (Java starts anyway).
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g")
    ///     .namesrv_addr("a:9876; b:9876")
    ///     .namesrv_addr("c:9876")
    ///     .build()?;
    /// assert_eq!(c.namesrv_addrs(), ["a:9876", "b:9876", "c:9876"]);
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn namesrv_addr(mut self, addrs: &str) -> Self {
        match parse_namesrv_addrs(addrs) {
            Ok(list) => self.config.instance.route.namesrv_addrs.extend(list),
            Err(e) => self.errors.push(e),
        }
        self
    }

    /// The address server's host, `host` (port 8080) or `host:port` (Java
    /// `rocketmq.namesrv.domain`; else `NAMESRV_DOMAIN`, else `jmenv.tbsite.net`).
    /// Asked for the name-server list at start and every 2 minutes when no
    /// name server is configured (neither here nor in `NAMESRV_ADDR`); no list
    /// from it at start fails `ProducerActor::start` with a `Config` error.
    ///
    /// ```
    /// let c = actix_rocketmq::producer::config::ProducerConfig::builder("g")
    ///     .namesrv_domain("addr.example")
    ///     .build()?;
    /// assert_eq!(c.namesrv_http_endpoint().0, "http://addr.example:8080/rocketmq/nsaddr");
    /// # Ok::<(), actix_rocketmq::error::Error>(())
    /// ```
    pub fn namesrv_domain(mut self, domain: impl Into<String>) -> Self {
        let d = domain.into().trim().to_owned();
        if d.is_empty() || d.contains('/') {
            self.errors
                .push(format!("namesrv_domain `{d}` is not `host` or `host:port`"));
        }
        self.config.namesrv_http.domain = Some(d);
        self
    }

    /// The address server's subgroup, the URL's last segment (else
    /// `NAMESRV_DOMAIN_SUBGROUP`, else `nsaddr`).
    pub fn namesrv_domain_subgroup(mut self, subgroup: impl Into<String>) -> Self {
        self.config.namesrv_http.subgroup = Some(subgroup.into().trim().to_owned());
        self
    }

    /// The full `http://` URL of the address server; overrides the domain and subgroup.
    pub fn namesrv_http_endpoint(mut self, url: impl Into<String>) -> Self {
        let url = url.into().trim().to_owned();
        if !url.starts_with("http://") {
            self.errors.push(format!(
                "namesrv_http_endpoint `{url}` is not an http:// URL"
            ));
        }
        self.config.namesrv_http.endpoint = Some(url);
        self
    }

    /// How often the address server is asked again (default 2 minutes).
    pub fn namesrv_http_interval(mut self, interval: Duration) -> Self {
        self.config.namesrv_http.interval = interval;
        self
    }

    /// How long one request to the address server may take (default 3 s).
    pub fn namesrv_http_timeout(mut self, timeout: Duration) -> Self {
        self.config.namesrv_http.timeout = timeout;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    #[test]
    fn config_namesrv_parsing_and_env_fallback() {
        assert_eq!(
            parse_namesrv_addrs(" a:1 ;;b:2; [::1]:9876").unwrap(),
            ["a:1", "b:2", "[::1]:9876"]
        );
        assert_eq!(parse_namesrv_addrs("").unwrap(), Vec::<String>::new());
        assert!(parse_namesrv_addrs("a:99999").is_err());

        let configured = vec!["x:1".to_owned()];
        assert_eq!(
            resolve_namesrv_addrs(&configured, Some("y:2")).unwrap(),
            ["x:1"]
        );
        assert_eq!(
            resolve_namesrv_addrs(&[], Some("y:2;z:3")).unwrap(),
            ["y:2", "z:3"]
        );
        let none = resolve_namesrv_addrs(&[], None).unwrap_err();
        assert_eq!(none.kind(), &ErrorKind::Route(RouteError::NoNameServer));
        assert_eq!(none.client_error_code(), Some(10004));
        assert!(resolve_namesrv_addrs(&[], Some(" ; ")).is_err());
        assert!(matches!(
            resolve_namesrv_addrs(&[], Some("bad")).unwrap_err().kind(),
            ErrorKind::Config(_)
        ));
    }

    #[test]
    fn config_addr_server_precedence() {
        let mut s = NamesrvHttp::default();
        let (a, explicit) = resolve_addr_server(&s, None, None);
        assert_eq!(a.url, "http://jmenv.tbsite.net:8080/rocketmq/nsaddr");
        assert!(!explicit);
        assert_eq!(a.interval, Duration::from_secs(120));
        assert_eq!(a.timeout, Duration::from_secs(3));

        let (a, explicit) = resolve_addr_server(&s, Some("env.host:81"), Some(" "));
        assert_eq!(a.url, "http://env.host:81/rocketmq/nsaddr");
        assert!(explicit);
        let (a, _) = resolve_addr_server(&s, None, Some("unit"));
        assert_eq!(a.url, "http://jmenv.tbsite.net:8080/rocketmq/unit");

        s.domain = Some("mine".into());
        let (a, _) = resolve_addr_server(&s, Some("env.host"), Some("unit"));
        assert_eq!(a.url, "http://mine:8080/rocketmq/unit");

        s.endpoint = Some("http://x:1/list".into());
        let (a, explicit) = resolve_addr_server(&s, Some("env.host"), Some("unit"));
        assert_eq!(a.url, "http://x:1/list");
        assert!(explicit);
    }
}
