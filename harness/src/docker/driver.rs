//! The workload in real time: open loop on tokio's clock, from the host, to
//! the entry service's containers by address.
//!
//! Each request is sent at its scheduled instant, whatever happened to the
//! ones before (open loop); what it carries, when its caller gives up and how
//! it ended are the run core's ([`request`]), the same as in the simulator.
//! A request whose record never came back counts as unanswered.

use std::time::Duration;

use squall_fixture::{HttpClient, Tokio};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::engine::request;
use crate::record::RequestRecord;

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
            let record = request::send(&client, &target, &path, i, at, sent, deadline).await;
            let _ = tx.send((i, record));
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
            records
                .get(i)
                .cloned()
                .flatten()
                .unwrap_or_else(|| request::unanswered(*at, deadline))
        })
        .collect()
}
