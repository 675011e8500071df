//! The workload as a turmoil client: sends each request at its scheduled
//! simulated time to the target service's replicas in turn, with the caller's
//! deadline, and records how each one ended.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use http::{HeaderMap, HeaderValue};
use squall_fixture::{HttpClient, Sim};
use tokio::time::Instant;

use crate::record::{Outcome, RequestRecord};

/// What the driver sends, and to whom.
pub struct Driver {
    /// Authorities of the target service's replicas.
    pub targets: Vec<String>,
    pub path: String,
    pub deadline: Duration,
    /// Scheduled send times since the start of the load phase.
    pub schedule: Vec<Duration>,
}

/// Filled in by the driver as answers arrive; slot `i` is request `i`.
pub type Records = Rc<RefCell<Vec<Option<RequestRecord>>>>;

impl Driver {
    /// Runs the load phase, then waits for the last answer or deadline.
    pub async fn run(self, records: Records) -> turmoil::Result {
        let client = HttpClient::<Sim>::new();
        let start = Instant::now();
        let mut tasks = Vec::with_capacity(self.schedule.len());
        for (i, at) in self.schedule.iter().copied().enumerate() {
            tokio::time::sleep_until(start + at).await;
            let client = client.clone();
            let target = self.targets[i % self.targets.len()].clone();
            let path = self.path.clone();
            let deadline = self.deadline;
            let records = records.clone();
            tasks.push(tokio::task::spawn_local(async move {
                let mut headers = HeaderMap::new();
                if let Ok(id) = HeaderValue::from_str(&i.to_string()) {
                    headers.insert("x-request-id", id);
                }
                let sent = start + at;
                let answer =
                    tokio::time::timeout_at(sent + deadline, client.get(&target, &path, &headers))
                        .await;
                let (latency, outcome) = match answer {
                    Err(_) => (deadline, Outcome::Timeout),
                    Ok(reply) => {
                        let outcome = match reply {
                            Ok(r) if r.status == 200 && r.degraded.is_empty() => Outcome::Ok,
                            Ok(r) if r.status == 200 => Outcome::Degraded(r.degraded),
                            Ok(r) => Outcome::Error(r.status),
                            Err(_) => Outcome::Failed,
                        };
                        (Instant::now() - sent, outcome)
                    }
                };
                records.borrow_mut()[i] = Some(RequestRecord {
                    scheduled: at,
                    latency,
                    outcome,
                });
            }));
        }
        for task in tasks {
            // A task cannot panic short of a bug; its slot then stays empty
            // and the run reports the request as failed.
            let _ = task.await;
        }
        Ok(())
    }
}
