//! The workload as a turmoil client: sends each request at its scheduled
//! simulated time to the target service's replicas in turn, and records how
//! each one ended. What a request carries and means is the run core's
//! ([`request`]), the same as on Docker.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use squall_fixture::{HttpClient, Sim};
use tokio::time::Instant;

use crate::engine::request;
use crate::workload::Arrivals;

use super::collect::Collector;

/// What the driver sends, and to whom.
pub struct Driver {
    /// Authorities of the target service's replicas.
    pub targets: Vec<String>,
    pub path: String,
    pub deadline: Duration,
    /// Scheduled send times since the start of the load phase.
    pub schedule: Arrivals,
    /// Set to the simulation's clock (`turmoil::sim_elapsed`) when the load
    /// phase starts, so instance records can be put on the load's timeline.
    pub load_start: Rc<Cell<Duration>>,
    /// Set when the run is interrupted: no request is sent after it.
    pub stop: Rc<Cell<bool>>,
}

/// Told of every request sent and every answer, as they happen.
pub type Records = Rc<RefCell<Collector>>;

impl Driver {
    /// Runs the load phase, then waits for the last answer or deadline.
    pub async fn run(self, records: Records) -> turmoil::Result {
        let client = HttpClient::<Sim>::new();
        let start = Instant::now();
        self.load_start
            .set(squall_fixture::clock::now().saturating_sub(start.elapsed()));
        records.borrow_mut().set_load_start(self.load_start.get());
        // Requests in flight. Join handles are not kept: a finished task's memory
        // is freed only with its handle, ~2 KB a request for the whole run.
        let in_flight = Rc::new(Cell::new(0usize));
        for (i, at) in self.schedule.enumerate() {
            tokio::time::sleep_until(start + at).await;
            if self.stop.get() {
                break;
            }
            records.borrow_mut().sent(i, at);
            let client = client.clone();
            let target = self.targets[i % self.targets.len()].clone();
            let path = self.path.clone();
            let deadline = self.deadline;
            let records = records.clone();
            let in_flight = in_flight.clone();
            in_flight.set(in_flight.get() + 1);
            drop(tokio::task::spawn_local(async move {
                let record =
                    request::send(&client, &target, &path, i, at, start + at, deadline).await;
                records.borrow_mut().answered(i, record);
                in_flight.set(in_flight.get() - 1);
            }));
        }
        // Every request ends by its deadline; wait for the last one, a tick at
        // a time (bounded: the deadline plus a second).
        let drain_end = Instant::now() + self.deadline + Duration::from_secs(1);
        while in_flight.get() > 0 && Instant::now() < drain_end {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        Ok(())
    }
}
