//! Text a peer sent (remarks, field values), cut to a bound before it goes
//! into an error or a log line: a 10 MB remark must not become a 10 MB error.
use std::borrow::Cow;

/// The most bytes of a peer's text kept in an error or log line.
pub const PEER_TEXT_MAX: usize = 512;

/// `text` unchanged when it fits in [`PEER_TEXT_MAX`] bytes, else its first
/// bytes (cut on a character boundary) marked with how much was cut.
///
/// ```
/// use actix_rocketmq::internals::protocol::peer_text::{bounded, PEER_TEXT_MAX};
/// assert_eq!(bounded("short"), "short");
/// let long = "x".repeat(10_000_000);
/// let cut = bounded(&long);
/// assert!(cut.len() < PEER_TEXT_MAX + 64);
/// assert!(cut.ends_with("… (cut: 10000000 bytes in all)"));
/// ```
pub fn bounded(text: &str) -> Cow<'_, str> {
    if text.len() <= PEER_TEXT_MAX {
        return Cow::Borrowed(text);
    }
    let mut end = PEER_TEXT_MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!(
        "{}… (cut: {} bytes in all)",
        &text[..end],
        text.len()
    ))
}

/// [`bounded`], owned.
pub fn bounded_owned(text: String) -> String {
    match bounded(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(cut) => cut,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_on_a_character_boundary() {
        let text = "é".repeat(PEER_TEXT_MAX); // 2 bytes each
        let cut = bounded(&text);
        assert!(cut.starts_with(&"é".repeat(PEER_TEXT_MAX / 2)));
        assert!(cut.contains("cut: 1024 bytes"));
        assert_eq!(bounded_owned("ok".into()), "ok");
    }
}
