//! Negative route caching: a look-up that failed, or answered a route with
//! nothing to send to, is remembered for a short, growing interval, so a
//! mistyped topic or a sick name server costs a few look-ups a second, not one
//! per send (Java asks again on every send).
use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use super::error::RouteError;

/// First interval a failed look-up is remembered for; doubles per failure in a row.
pub const FIRST_INTERVAL: Duration = Duration::from_millis(100);

struct Failed {
    error: RouteError,
    until: Instant,
    interval: Duration,
}

/// The failed look-ups by topic, and until when each one answers for the name servers.
pub(crate) struct FailedLookups {
    entries: HashMap<String, Failed>,
    /// The longest interval: the poll interval, so a topic created later is
    /// picked up at the latest when a cached one's change would be.
    cap: Duration,
}

impl FailedLookups {
    pub(crate) fn new(cap: Duration) -> Self {
        FailedLookups {
            entries: HashMap::new(),
            cap: cap.max(FIRST_INTERVAL),
        }
    }

    /// The cached error of `topic`, while its interval lasts.
    pub(crate) fn check(&self, topic: &str, now: Instant) -> Option<&RouteError> {
        self.entries
            .get(topic)
            .filter(|f| now < f.until)
            .map(|f| &f.error)
    }

    /// Remembers a failed look-up; returns how long it answers for the name servers.
    pub(crate) fn failed(&mut self, topic: &str, error: RouteError, now: Instant) -> Duration {
        let interval = match self.entries.get(topic) {
            Some(f) => (f.interval * 2).min(self.cap),
            None => FIRST_INTERVAL,
        };
        self.entries.insert(
            topic.to_string(),
            Failed {
                error,
                until: now + interval,
                interval,
            },
        );
        interval
    }

    /// The topic has a usable route: forget its failures.
    pub(crate) fn succeeded(&mut self, topic: &str) {
        self.entries.remove(topic);
    }

    /// Topics remembered now.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err() -> RouteError {
        RouteError::NoRoute { topic: "T".into() }
    }

    #[test]
    fn intervals_grow_to_the_cap_and_reset_on_success() {
        let t0 = Instant::now();
        let mut f = FailedLookups::new(Duration::from_millis(500));
        let got: Vec<u128> = (0..5)
            .map(|_| f.failed("T", err(), t0).as_millis())
            .collect();
        assert_eq!(got, [100, 200, 400, 500, 500]);
        assert_eq!(f.check("T", t0 + Duration::from_millis(499)), Some(&err()));
        assert_eq!(f.check("T", t0 + Duration::from_millis(500)), None);
        assert_eq!(f.check("U", t0), None);
        f.succeeded("T");
        assert_eq!(f.len(), 0);
        assert_eq!(f.failed("T", err(), t0), FIRST_INTERVAL);
    }
}
