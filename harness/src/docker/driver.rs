//! The workload in real time: open loop on tokio's clock, from the host, to
//! the entry service's containers by address.
//!
//! Each request is sent at its scheduled instant, whatever happened to the
//! ones before (open loop); its latency runs from that scheduled instant, so
//! a stalled system or a late driver cannot hide its slow periods. Each
//! request carries its deadline (`squall-deadline`) and its number
//! (`x-request-id`, which joins the spans into traces), as in the simulator.
//! The records are the simulator's [`RequestRecord`]s.

use std::time::Duration;

use http::{HeaderMap, HeaderValue};
use squall_fixture::{clock, deadline, HttpClient, Tokio};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::record::{Outcome, RequestRecord};

/// Runs the load phase that starts at `start`; returns one record per
/// scheduled request, in schedule order.
pub async fn drive(
    targets: Vec<String>,
    path: String,
    deadline: Duration,
    schedule: Vec<Duration>,
    start: Instant,
) -> Vec<RequestRecord> {
    let client = HttpClient::<Tokio>::new();
    let (tx, mut rx) = mpsc::unbounded_channel::<(usize, RequestRecord)>();
    let total = schedule.len();
    let collector = tokio::spawn(async move {
        let mut records: Vec<Option<RequestRecord>> = vec![None; total];
        while let Some((i, r)) = rx.recv().await {
            records[i] = Some(r);
        }
        records
    });
    for (i, at) in schedule.iter().copied().enumerate() {
        let sent = start + at;
        tokio::time::sleep_until(sent).await;
        let client = client.clone();
        let target = targets[i % targets.len()].clone();
        let path = path.clone();
        let tx = tx.clone();
        // Join handles are not kept; the channel closing tells the end.
        drop(tokio::spawn(async move {
            let mut headers = HeaderMap::new();
            if let Ok(id) = HeaderValue::from_str(&i.to_string()) {
                headers.insert("x-request-id", id);
            }
            // The caller's deadline travels with the request, from its scheduled send
            // time on the clock the containers share (the host's); services with
            // `propagate_deadline` honour it, the others ignore it.
            let late = Instant::now().saturating_duration_since(sent);
            headers.insert(
                deadline::DEADLINE_HEADER,
                deadline::header_value((clock::shared_now() + deadline).saturating_sub(late)),
            );
            let answer =
                tokio::time::timeout_at(sent + deadline, client.get(&target, &path, &headers))
                    .await;
            let (latency, outcome) = match answer {
                Err(_) => (deadline, Outcome::Timeout),
                Ok(reply) => {
                    let outcome = Outcome::of_reply(reply);
                    ((Instant::now() - sent).min(deadline), outcome)
                }
            };
            let _ = tx.send((
                i,
                RequestRecord {
                    scheduled: at,
                    latency,
                    outcome,
                },
            ));
        }));
    }
    drop(tx);
    // Every request ends by its deadline; the collector ends when the last
    // sender is gone (bounded by the deadline, plus a second of slack).
    let records = tokio::time::timeout(deadline + Duration::from_secs(1), collector)
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    schedule
        .iter()
        .enumerate()
        .map(|(i, at)| {
            records.get(i).cloned().flatten().unwrap_or(RequestRecord {
                scheduled: *at,
                latency: deadline,
                outcome: Outcome::Timeout,
            })
        })
        .collect()
}
