//! Namespaces (Java `NamespaceUtil`): how a namespace is prefixed to topics
//! and groups (`ns%name`), taken off again, and which names it never touches.
use std::borrow::Cow;

use crate::error::Error;
use crate::protocol::validation::{
    DLQ_TOPIC_PREFIX, RETRY_TOPIC_PREFIX, is_legal_name, is_system_topic,
};

/// Prefix of system consumer groups, which are never namespaced.
pub const SYSTEM_GROUP_PREFIX: &str = "CID_RMQ_SYS_";
/// Separator between a namespace and a resource name.
pub const NAMESPACE_SEPARATOR: char = '%';

/// Refuses a namespace that could not be told apart from the name it prefixes.
pub(super) fn validate_namespace(ns: &str) -> Result<(), Error> {
    if !is_legal_name(ns) || ns.contains(NAMESPACE_SEPARATOR) {
        return Err(Error::config(format!(
            "namespace `{ns}` may contain only ASCII letters, digits, `_`, `-` and `|`"
        )));
    }
    Ok(())
}

/// Java `NamespaceUtil.isSystemResource`: system topics and `CID_RMQ_SYS_` groups.
fn is_system_resource(resource: &str) -> bool {
    !resource.is_empty() && (is_system_topic(resource) || resource.starts_with(SYSTEM_GROUP_PREFIX))
}

/// Splits a `%RETRY%`/`%DLQ%` prefix off (Java checks "not blank" first).
fn split_retry_dlq(resource: &str) -> (&str, &str) {
    if resource.trim().is_empty() {
        return ("", resource);
    }
    for prefix in [RETRY_TOPIC_PREFIX, DLQ_TOPIC_PREFIX] {
        if let Some(rest) = resource.strip_prefix(prefix) {
            return (prefix, rest);
        }
    }
    ("", resource)
}

/// Whether `rest` starts with `namespace%`.
fn starts_with_namespace(rest: &str, namespace: &str) -> bool {
    rest.strip_prefix(namespace)
        .is_some_and(|r| r.starts_with(NAMESPACE_SEPARATOR))
}

/// Java `NamespaceUtil.wrapNamespace`: `ns%name`, keeping a `%RETRY%`/`%DLQ%` prefix in
/// front (`%RETRY%ns%group`); system resources, already-wrapped names and an empty
/// namespace leave `resource` unchanged.
///
/// ```
/// use actix_rocketmq::producer::config::wrap_namespace;
/// assert_eq!(wrap_namespace("ns", "T"), "ns%T");
/// assert_eq!(wrap_namespace("ns", "%RETRY%G"), "%RETRY%ns%G");
/// assert_eq!(wrap_namespace("ns", "ns%T"), "ns%T");
/// assert_eq!(wrap_namespace("ns", "TBW102"), "TBW102");
/// assert_eq!(wrap_namespace("", "T"), "T");
/// ```
pub fn wrap_namespace<'a>(namespace: &str, resource: &'a str) -> Cow<'a, str> {
    if namespace.is_empty() || resource.is_empty() || is_system_resource(resource) {
        return Cow::Borrowed(resource);
    }
    let (prefix, rest) = split_retry_dlq(resource);
    if starts_with_namespace(rest, namespace) {
        return Cow::Borrowed(resource);
    }
    Cow::Owned(format!("{prefix}{namespace}{NAMESPACE_SEPARATOR}{rest}"))
}

/// Java `NamespaceUtil.withoutNamespace(resource, namespace)`: removes `namespace%`
/// (after any `%RETRY%`/`%DLQ%` prefix, which stays); a resource of another namespace,
/// or an empty namespace, leaves `resource` unchanged.
///
/// ```
/// use actix_rocketmq::producer::config::strip_namespace;
/// assert_eq!(strip_namespace("ns", "ns%T"), "T");
/// assert_eq!(strip_namespace("ns", "%RETRY%ns%G"), "%RETRY%G");
/// assert_eq!(strip_namespace("ns", "other%T"), "other%T");
/// assert_eq!(strip_namespace("", "ns%T"), "ns%T");
/// ```
pub fn strip_namespace<'a>(namespace: &str, resource: &'a str) -> Cow<'a, str> {
    if namespace.is_empty() || resource.is_empty() {
        return Cow::Borrowed(resource);
    }
    let (prefix, rest) = split_retry_dlq(resource);
    if !starts_with_namespace(rest, namespace) || is_system_resource(resource) {
        return Cow::Borrowed(resource);
    }
    // Java cuts at the first separator after the prefix, not at the namespace length.
    match rest.find(NAMESPACE_SEPARATOR) {
        Some(i) if i > 0 => {
            let tail = &rest[i + NAMESPACE_SEPARATOR.len_utf8()..];
            if prefix.is_empty() {
                Cow::Borrowed(tail)
            } else {
                Cow::Owned(format!("{prefix}{tail}"))
            }
        }
        _ => Cow::Borrowed(resource),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::producer::config::ProducerConfig;

    #[test]
    fn namespace_wrap_follows_java() {
        assert_eq!(wrap_namespace("ns", "T"), "ns%T");
        assert_eq!(wrap_namespace("ns", "%RETRY%G"), "%RETRY%ns%G");
        assert_eq!(wrap_namespace("ns", "%DLQ%G"), "%DLQ%ns%G");
        assert_eq!(wrap_namespace("ns", "%RETRY%ns%G"), "%RETRY%ns%G");
        assert_eq!(wrap_namespace("ns", "ns%T"), "ns%T");
        // A different namespace's resource is wrapped again, as Java does.
        assert_eq!(wrap_namespace("ns", "nsx%T"), "ns%nsx%T");
        for sys in [
            "TBW102",
            "SCHEDULE_TOPIC_XXXX",
            "rmq_sys_foo",
            "CID_RMQ_SYS_X",
        ] {
            assert_eq!(wrap_namespace("ns", sys), sys);
        }
        assert_eq!(wrap_namespace("", "T"), "T");
        assert_eq!(wrap_namespace("ns", ""), "");
        assert!(matches!(wrap_namespace("", "T"), Cow::Borrowed(_)));
    }

    #[test]
    fn namespace_strip_follows_java() {
        assert_eq!(strip_namespace("ns", "ns%T"), "T");
        assert_eq!(strip_namespace("ns", "%RETRY%ns%G"), "%RETRY%G");
        assert_eq!(strip_namespace("ns", "%DLQ%ns%G"), "%DLQ%G");
        assert_eq!(strip_namespace("ns", "other%T"), "other%T");
        assert_eq!(strip_namespace("ns", "%RETRY%other%G"), "%RETRY%other%G");
        assert_eq!(strip_namespace("ns", "T"), "T");
        assert_eq!(strip_namespace("ns", "nsT"), "nsT");
        assert_eq!(strip_namespace("", "ns%T"), "ns%T");
        assert_eq!(strip_namespace("ns", "ns%a%b"), "a%b");
        for r in ["T", "%RETRY%G", "%DLQ%G", "a%b"] {
            assert_eq!(strip_namespace("ns", &wrap_namespace("ns", r)), r);
        }
        let c = ProducerConfig::builder("g")
            .namespace("ns")
            .build()
            .unwrap();
        assert_eq!(c.wrapped_group(), "ns%g");
        assert_eq!(c.wrap("%RETRY%g"), "%RETRY%ns%g");
        assert_eq!(c.strip("ns%T"), "T");
    }

    #[test]
    fn namespace_validation() {
        assert!(validate_namespace("MQ_INST_1|a-b").is_ok());
        assert!(validate_namespace("a%b").is_err());
        assert!(validate_namespace("a b").is_err());
    }
}
