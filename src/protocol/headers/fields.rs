//! Reading and writing header fields: required and optional keys, numbers
//! and Java booleans, shared by every header (the test broker's too).
use std::str::FromStr;

use crate::protocol::command::ExtFields;
use crate::protocol::error::ProtocolError;

/// The 5.x base-class (`RpcRequestHeader`) broker-name key, carried by several headers.
pub(crate) const BNAME: &str = "bname";

pub(crate) fn req<'a>(f: &'a ExtFields, key: &'static str) -> Result<&'a str, ProtocolError> {
    f.get(key).ok_or(ProtocolError::MissingField(key))
}

pub(crate) fn parse<T: FromStr>(key: &'static str, v: &str) -> Result<T, ProtocolError> {
    v.parse().map_err(|_| ProtocolError::InvalidField {
        field: key,
        value: v.to_owned(),
    })
}

// Java's Boolean.parseBoolean ignores case; anything but true/false is rejected here.
pub(crate) fn parse_bool(key: &'static str, v: &str) -> Result<bool, ProtocolError> {
    if v.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if v.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(ProtocolError::InvalidField {
            field: key,
            value: v.to_owned(),
        })
    }
}

pub(crate) fn req_str(f: &ExtFields, key: &'static str) -> Result<String, ProtocolError> {
    req(f, key).map(str::to_owned)
}

pub(crate) fn opt_str(f: &ExtFields, key: &'static str) -> Option<String> {
    f.get(key).map(str::to_owned)
}

pub(crate) fn required<'a>(
    key: &'static str,
    v: Option<&'a str>,
) -> Result<&'a str, ProtocolError> {
    v.ok_or(ProtocolError::MissingField(key))
}

pub(crate) fn req_num<T: FromStr>(f: &ExtFields, key: &'static str) -> Result<T, ProtocolError> {
    parse(key, req(f, key)?)
}

pub(crate) fn opt_num<T: FromStr>(
    f: &ExtFields,
    key: &'static str,
) -> Result<Option<T>, ProtocolError> {
    f.get(key).map(|v| parse(key, v)).transpose()
}

// Only the test broker's CreateTopic header reads a required bool.
#[cfg_attr(not(feature = "testkit"), allow(dead_code))]
pub(crate) fn req_bool(f: &ExtFields, key: &'static str) -> Result<bool, ProtocolError> {
    parse_bool(key, req(f, key)?)
}

pub(crate) fn opt_bool(f: &ExtFields, key: &'static str) -> Result<Option<bool>, ProtocolError> {
    f.get(key).map(|v| parse_bool(key, v)).transpose()
}

pub(crate) fn bool_str(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

pub(crate) fn push_opt_str(f: &mut ExtFields, key: &'static str, v: &Option<String>) {
    if let Some(v) = v {
        f.push(key, v.as_str());
    }
}

pub(crate) fn push_opt_num<T: ToString>(f: &mut ExtFields, key: &'static str, v: Option<T>) {
    if let Some(v) = v {
        f.push(key, v.to_string());
    }
}

pub(crate) fn push_opt_bool(f: &mut ExtFields, key: &'static str, v: Option<bool>) {
    if let Some(v) = v {
        f.push(key, bool_str(v));
    }
}
