//! ACL request signing (the Java `AclClientRPCHook`; the same algorithm as the
//! 5.x authentication module's `AclSigner`).
//!
//! Every request gets `AccessKey` (and `SecurityToken` when there is one) in
//! its extFields, then `Signature`: HMAC-SHA1 keyed with the secret key over
//! the values of all the other extFields sorted by key (byte order), followed
//! by the body, Base64 (padded). Brokers and name servers that require
//! authentication recompute it over what they receive.
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;

use super::command::{ExtFields, RemotingCommand};
use super::serialize::{binary_entries, decode_fields};

/// extFields key of the access key.
pub const ACCESS_KEY: &str = "AccessKey";
/// extFields key of the signature.
pub const SIGNATURE: &str = "Signature";
/// extFields key of the security token (STS credentials).
pub const SECURITY_TOKEN: &str = "SecurityToken";

/// The identity requests are signed with (Java `SessionCredentials`).
#[derive(Clone, PartialEq, Eq)]
pub struct AclCredentials {
    access_key: String,
    secret_key: String,
    security_token: Option<String>,
}

impl AclCredentials {
    /// An access key and its secret key.
    pub fn new(access_key: impl Into<String>, secret_key: impl Into<String>) -> Self {
        AclCredentials {
            access_key: access_key.into(),
            secret_key: secret_key.into(),
            security_token: None,
        }
    }

    /// Adds a security token (temporary credentials), sent as `SecurityToken`.
    pub fn with_security_token(mut self, token: impl Into<String>) -> Self {
        self.security_token = Some(token.into());
        self
    }

    /// The access key (the secret key is never shown).
    pub fn access_key(&self) -> &str {
        &self.access_key
    }
}

// The secret stays out of logs and panics.
impl fmt::Debug for AclCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AclCredentials")
            .field("access_key", &self.access_key)
            .field("secret_key", &"***")
            .field(
                "security_token",
                &self.security_token.as_ref().map(|_| "***"),
            )
            .finish()
    }
}

/// The signature of `values` (already in key order) followed by `body`.
pub fn signature<V: AsRef<[u8]>>(
    secret_key: &str,
    values: impl IntoIterator<Item = V>,
    body: &[u8],
) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret_key.as_bytes())
        .expect("HMAC takes a key of any length");
    for v in values {
        mac.update(v.as_ref());
    }
    mac.update(body);
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Adds `AccessKey` (and `SecurityToken`) to `cmd` and signs it; a signature
/// already there is replaced. Fields encoded ahead of time are signed too.
pub fn sign(cmd: &mut RemotingCommand, creds: &AclCredentials) {
    let ext = cmd.ext_fields.get_or_insert_with(ExtFields::new);
    ext.remove(SIGNATURE);
    ext.insert(ACCESS_KEY, creds.access_key.as_str());
    if let Some(token) = &creds.security_token {
        ext.insert(SECURITY_TOKEN, token.as_str());
    }
    // The producer's fields encoded ahead are read in place (bytes: what is signed).
    let decoded;
    let mut fields: Vec<(&[u8], &[u8])> = Vec::with_capacity(24);
    if let Some(enc) = ext.encoded() {
        match binary_entries(enc) {
            Some(entries) => fields.extend(entries),
            None => {
                decoded = decode_fields(enc);
                fields.extend(decoded.iter().map(|(k, v)| (k.as_bytes(), v.as_bytes())));
            }
        }
    }
    fields.extend(ext.iter().map(|(k, v)| (k.as_bytes(), v.as_bytes())));
    fields.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let sig = signature(&creds.secret_key, fields.iter().map(|(_, v)| *v), &cmd.body);
    drop(fields);
    cmd.ext_fields
        .get_or_insert_with(ExtFields::new)
        .insert(SIGNATURE, sig);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::SerializeType;
    use crate::protocol::serialize::encode_fields;

    /// Computed independently (Python's `hmac` and `base64`) and accepted by the
    /// real broker with `authenticationEnabled`: GET_MAX_OFFSET of TBW102/0 by
    /// user `rocketmq` / `12345678`.
    #[test]
    fn signature_matches_an_independent_computation() {
        let mut ext = ExtFields::new();
        ext.push("topic", "TBW102");
        ext.push("queueId", "0");
        let mut cmd = RemotingCommand::request(30, ext);
        sign(&mut cmd, &AclCredentials::new("rocketmq", "12345678"));
        let ext = cmd.ext_fields.as_ref().unwrap();
        assert_eq!(ext.get(ACCESS_KEY), Some("rocketmq"));
        // Sorted keys: AccessKey, queueId, topic → "rocketmq" "0" "TBW102".
        assert_eq!(ext.get(SIGNATURE), Some(GOLDEN_SIGNATURE));
        // Signing again replaces the signature; it does not sign the old one.
        sign(&mut cmd, &AclCredentials::new("rocketmq", "12345678"));
        let ext = cmd.ext_fields.as_ref().unwrap();
        assert_eq!(ext.get(SIGNATURE), Some(GOLDEN_SIGNATURE));
        assert_eq!(ext.iter().filter(|(k, _)| *k == SIGNATURE).count(), 1);
    }

    const GOLDEN_SIGNATURE: &str = "bXpsgmrlA4M/kTiXBRjZczpzKEA=";

    #[test]
    fn fields_encoded_ahead_are_signed_like_plain_ones() {
        let mut fixed = ExtFields::new();
        fixed.push("b", "TopicTest");
        fixed.push("a", "group");
        let creds = AclCredentials::new("ak", "sk").with_security_token("tok");
        for ty in [SerializeType::RocketMq, SerializeType::Json] {
            let mut ext = ExtFields::with_encoded(encode_fields(&fixed, ty), 1);
            ext.push("e", "3");
            let mut encoded = RemotingCommand::request(310, ext).with_body(&b"body"[..]);
            let mut plain_ext = fixed.clone();
            plain_ext.push("e", "3");
            let mut plain = RemotingCommand::request(310, plain_ext).with_body(&b"body"[..]);
            sign(&mut encoded, &creds);
            sign(&mut plain, &creds);
            let sig = |c: &RemotingCommand| {
                c.ext_fields
                    .as_ref()
                    .unwrap()
                    .get(SIGNATURE)
                    .unwrap()
                    .to_owned()
            };
            assert_eq!(sig(&encoded), sig(&plain), "{ty:?}");
            // AccessKey, SecurityToken, a, b, e: the values in that order, then the body.
            let expected = signature("sk", ["ak", "tok", "group", "TopicTest", "3"], b"body");
            assert_eq!(sig(&plain), expected);
        }
        assert!(!format!("{creds:?}").contains("sk\""));
    }
}
