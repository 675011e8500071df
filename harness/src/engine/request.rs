//! One workload request, meant the same on every backend: what it carries,
//! how long it may take, and how it ended.
//!
//! - It is due at its scheduled instant and its latency runs from there,
//!   whenever the driver actually got to send it (open loop, no coordinated
//!   omission).
//! - It carries its number ([`REQUEST_ID_HEADER`], which joins the
//!   instances' spans into its trace) and the caller's deadline
//!   ([`DEADLINE_HEADER`]): the scheduled instant plus the workload's
//!   `deadline`, on the clock the instances share.
//! - The caller gives up at that deadline: a request with no answer by then
//!   is a [`Outcome::Timeout`] with the deadline as its latency, and so is a
//!   request whose answer never reached the record at all. No latency is
//!   longer than the deadline (an answer that lands in the same instant as
//!   the deadline is an answer, at the deadline).
//!
//! The simulator and Docker drivers differ only in how they spawn and collect
//! requests; both send each one through [`send`].
//!
//! [`DEADLINE_HEADER`]: squall_fixture::deadline::DEADLINE_HEADER

use std::time::Duration;

use http::{HeaderMap, HeaderValue, Uri};
use squall_fixture::{clock, deadline, ClientError, HttpClient, Reply, Transport};
use tokio::time::Instant;

use crate::record::{Outcome, RequestRecord};

pub use squall_fixture::REQUEST_ID_HEADER;

/// The headers of request `index` whose caller gives up at `deadline_at` on
/// the shared clock.
pub fn headers(index: usize, deadline_at: Duration) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(REQUEST_ID_HEADER, HeaderValue::from(index));
    headers.insert(
        deadline::DEADLINE_HEADER,
        deadline::header_value(deadline_at),
    );
    headers
}

/// The record of a request scheduled at `scheduled` that got no answer (or
/// whose answer was lost): a timeout at the deadline.
pub fn unanswered(scheduled: Duration, deadline: Duration) -> RequestRecord {
    RequestRecord {
        scheduled,
        latency: deadline,
        outcome: Outcome::Timeout,
    }
}

/// The record of a request scheduled at `scheduled` that got `answer` (a
/// reply or a connection error) `elapsed` after its scheduled instant, or
/// nothing (`None`) before its deadline.
pub fn ended(
    scheduled: Duration,
    answer: Option<Result<Reply, ClientError>>,
    elapsed: Duration,
    deadline: Duration,
) -> RequestRecord {
    match answer {
        None => unanswered(scheduled, deadline),
        Some(reply) => RequestRecord {
            scheduled,
            latency: elapsed.min(deadline),
            outcome: Outcome::of_reply(reply),
        },
    }
}

/// Sends request `index` (scheduled `scheduled` into the load phase, due at
/// the instant `due`) to `target` (the URI of a replica's path, built once
/// per run), and waits for its answer until its deadline. Runs on the
/// backend's clock: tokio's, which turmoil simulates.
pub async fn send<T: Transport>(
    client: &HttpClient<T>,
    target: &Uri,
    index: usize,
    scheduled: Duration,
    due: Instant,
    deadline: Duration,
) -> RequestRecord {
    // The deadline counts from the scheduled instant, as the caller's own
    // timeout below does, however late the driver got here.
    let late = Instant::now().saturating_duration_since(due);
    let deadline_at = clock::shared_now()
        .saturating_add(deadline)
        .saturating_sub(late);
    let headers = headers(index, deadline_at);
    let answer = tokio::time::timeout_at(due + deadline, client.get_uri(target.clone(), headers))
        .await
        .ok();
    ended(scheduled, answer, Instant::now() - due, deadline)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEADLINE: Duration = Duration::from_millis(200);

    fn reply(status: u16, degraded: &[&str]) -> Option<Result<Reply, ClientError>> {
        Some(Ok(Reply {
            status,
            degraded: degraded.iter().map(|s| s.to_string()).collect(),
        }))
    }

    #[test]
    fn no_answer_is_a_timeout_at_the_deadline() {
        let at = Duration::from_secs(3);
        let record = ended(at, None, Duration::from_millis(250), DEADLINE);
        assert_eq!(record, unanswered(at, DEADLINE));
        assert_eq!(record.outcome, Outcome::Timeout);
        assert_eq!(record.latency, DEADLINE);
    }

    #[test]
    fn latency_never_exceeds_the_deadline() {
        let late = ended(
            Duration::ZERO,
            reply(200, &[]),
            Duration::from_millis(201),
            DEADLINE,
        );
        assert_eq!(late.latency, DEADLINE);
        assert_eq!(late.outcome, Outcome::Ok);
        let quick = ended(
            Duration::ZERO,
            reply(200, &[]),
            Duration::from_millis(7),
            DEADLINE,
        );
        assert_eq!(quick.latency, Duration::from_millis(7));
    }

    #[test]
    fn answers_become_outcomes() {
        let of = |answer| ended(Duration::ZERO, answer, Duration::ZERO, DEADLINE).outcome;
        assert_eq!(
            of(reply(200, &["fraud"])),
            Outcome::Degraded(vec!["fraud".into()])
        );
        assert_eq!(of(reply(503, &[])), Outcome::Error(503));
        assert_eq!(
            of(Some(Err(ClientError::InvalidTarget("x".into())))),
            Outcome::Failed
        );
    }

    #[test]
    fn headers_carry_the_number_and_the_deadline() {
        let h = headers(42, Duration::from_micros(1_800_000_000_250_000));
        assert_eq!(h[REQUEST_ID_HEADER], "42");
        assert_eq!(
            deadline::read(&h),
            Some(Duration::from_micros(1_800_000_000_250_000))
        );
    }
}
