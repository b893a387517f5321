//! Name-server discovery over HTTP (Java `TopAddressing`): when no name server
//! is configured, the list is fetched from an address server,
//! `http://{domain}:8080/rocketmq/{subgroup}`, at start and then every 2 minutes.
//!
//! The pure parts live here (the URL rule, the body parser, the "log once per
//! change of state" record) next to [`fetch`], the one HTTP GET (awc, so it runs
//! inside the actix System). The `ClientInstance` polls and hands a changed list
//! to its `RouteManager`.
use std::time::Duration;

/// The address server's host when none is configured (Java `MixAll.WS_DOMAIN_NAME`).
pub const DEFAULT_DOMAIN: &str = "jmenv.tbsite.net";
/// The path's last segment when none is configured (Java `MixAll.WS_DOMAIN_SUBGROUP`).
pub const DEFAULT_SUBGROUP: &str = "nsaddr";
/// Environment variable naming the address server's host (`host` or `host:port`).
pub const DOMAIN_ENV: &str = "NAMESRV_DOMAIN";
/// Environment variable naming the subgroup.
pub const SUBGROUP_ENV: &str = "NAMESRV_DOMAIN_SUBGROUP";
/// How often the list is fetched again (Java: every 2 minutes).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(120);
/// How long one fetch may take (Java `TopAddressing` uses 3 s).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);
/// Bodies longer than this are not a name-server list.
const MAX_BODY: usize = 64 * 1024;

/// Where and how often the name-server list is fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddrServerConfig {
    /// The full `http://` URL.
    pub url: String,
    /// Time allowed for one fetch (connect, response, body).
    pub timeout: Duration,
    /// Period between fetches.
    pub interval: Duration,
}

/// The address server's URL (Java `MixAll.getWSAddr`): a domain that carries a
/// port (`host:port`) is used as is, otherwise port 8080.
///
/// ```
/// use actix_rocketmq::internals::runtime::namesrv_http::ws_addr;
/// assert_eq!(ws_addr("jmenv.tbsite.net", "nsaddr"), "http://jmenv.tbsite.net:8080/rocketmq/nsaddr");
/// assert_eq!(ws_addr("127.0.0.1:8000", "x"), "http://127.0.0.1:8000/rocketmq/x");
/// ```
pub fn ws_addr(domain: &str, subgroup: &str) -> String {
    let domain = domain.trim();
    let subgroup = subgroup.trim();
    if domain.contains(':') {
        format!("http://{domain}/rocketmq/{subgroup}")
    } else {
        format!("http://{domain}:8080/rocketmq/{subgroup}")
    }
}

/// Whether `entry` is `host:port` with a valid port.
pub fn is_host_port(entry: &str) -> bool {
    entry
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok())
}

/// Parses the address server's body, `host:port;host:port`: whitespace and
/// newlines trimmed, empty entries ignored. An empty list, or an entry that is
/// not `host:port`, is an error (the last good list is kept).
pub fn parse_body(body: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for entry in body.split(';').map(str::trim).filter(|e| !e.is_empty()) {
        if !is_host_port(entry) {
            let shown: String = entry.chars().take(64).collect();
            return Err(format!("the body holds `{shown}`, which is not host:port"));
        }
        out.push(entry.to_owned());
    }
    if out.is_empty() {
        return Err("the body holds no name-server address".to_owned());
    }
    Ok(out)
}

/// One GET of `url` within `timeout`; the parsed list, or why there is none.
/// Must run inside an actix System (awc).
pub async fn fetch(url: &str, timeout: Duration) -> Result<Vec<String>, String> {
    let client = awc::Client::builder().timeout(timeout).finish();
    let get = async {
        let mut resp = client
            .get(url)
            .send()
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(format!("answered HTTP {status}"));
        }
        let body = resp
            .body()
            .limit(MAX_BODY)
            .await
            .map_err(|e| format!("body could not be read: {e}"))?;
        let text = std::str::from_utf8(&body).map_err(|_| "the body is not text".to_owned())?;
        parse_body(text)
    };
    match tokio::time::timeout(timeout, get).await {
        Ok(r) => r,
        Err(_) => Err(format!("no answer within {timeout:?}")),
    }
}

/// What a fetch's outcome changes in the log: logged once per change of state,
/// not every period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// Fetches failed before (or this is the first) and this one succeeded.
    Recovered,
    /// Fetches succeeded before (or this is the first) and this one failed.
    Failing,
}

/// The health of the fetches: `None` before the first one.
#[derive(Debug, Default, Clone, Copy)]
pub struct FetchHealth {
    failing: Option<bool>,
}

impl FetchHealth {
    /// Records a fetch; `Some` when the state changed (log it), `None` otherwise.
    /// The first success is no transition (nothing failed); the first failure is.
    pub fn record(&mut self, ok: bool) -> Option<Transition> {
        let before = self.failing.replace(!ok);
        match (before, ok) {
            (Some(true), true) => Some(Transition::Recovered),
            (None | Some(false), false) => Some(Transition::Failing),
            _ => None,
        }
    }

    /// Whether the last fetch failed.
    pub fn is_failing(&self) -> bool {
        self.failing == Some(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_rule_follows_java_get_ws_addr() {
        assert_eq!(
            ws_addr(DEFAULT_DOMAIN, DEFAULT_SUBGROUP),
            "http://jmenv.tbsite.net:8080/rocketmq/nsaddr"
        );
        assert_eq!(
            ws_addr("addr.example", "unit1"),
            "http://addr.example:8080/rocketmq/unit1"
        );
        assert_eq!(
            ws_addr(" 127.0.0.1:18080 ", "nsaddr"),
            "http://127.0.0.1:18080/rocketmq/nsaddr"
        );
    }

    #[test]
    fn body_parsing() {
        assert_eq!(
            parse_body("10.0.0.1:9876;10.0.0.2:9876\n").unwrap(),
            ["10.0.0.1:9876", "10.0.0.2:9876"]
        );
        assert_eq!(parse_body(" a:1 ;; \r\n b:2 ;").unwrap(), ["a:1", "b:2"]);
        assert!(parse_body("").is_err());
        assert!(parse_body(" ;\n ").is_err());
        assert!(parse_body("<html>oops</html>").is_err());
        assert!(parse_body("a:1;b").is_err());
        assert!(parse_body("a:99999").is_err());
        assert!(parse_body(":1").is_err());
        let long = "x".repeat(1000);
        assert!(parse_body(&long).unwrap_err().len() < 200);
    }

    #[test]
    fn health_logs_once_per_change_of_state() {
        let mut h = FetchHealth::default();
        assert_eq!(h.record(true), None);
        assert_eq!(h.record(true), None);
        assert_eq!(h.record(false), Some(Transition::Failing));
        assert!(h.is_failing());
        assert_eq!(h.record(false), None);
        assert_eq!(h.record(false), None);
        assert_eq!(h.record(true), Some(Transition::Recovered));
        assert!(!h.is_failing());
        assert_eq!(h.record(true), None);

        let mut first_fails = FetchHealth::default();
        assert_eq!(first_fails.record(false), Some(Transition::Failing));
        assert_eq!(first_fails.record(false), None);
    }
}
