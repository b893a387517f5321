//! Where the name servers are: `host:port;host:port` lists as Java writes
//! them, and the `NAMESRV_ADDR` environment variable when none is configured.
use crate::error::Error;
use crate::runtime::RouteError;

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
}
