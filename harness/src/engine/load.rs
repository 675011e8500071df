//! The workload driver, the same on every backend: open loop, each request
//! sent at its scheduled instant on the backend's clock (turmoil's simulated
//! tokio time, or real time) whatever happened to the ones before, to the
//! target's replicas in turn, through [`request::send`]; every request sent
//! and every answer goes to the run's [`Answers`] as it happens.
//!
//! A backend only says how a request's task is spawned ([`Spawn`]: on
//! turmoil's single-threaded host, or on tokio's threads) and gives the
//! client its transport.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use squall_fixture::{HttpClient, Transport};
use tokio::time::Instant;

use super::backend::Load;
use super::request;

/// How a backend starts one request's task.
pub trait Spawn {
    fn spawn<F: Future<Output = ()> + Send + 'static>(&self, task: F);
}

/// On the current thread's `LocalSet` (turmoil's hosts).
pub struct Local;

impl Spawn for Local {
    fn spawn<F: Future<Output = ()> + Send + 'static>(&self, task: F) {
        // Join handles are not kept: a finished task's memory is freed only
        // with its handle, ~2 KB a request for the whole run.
        drop(tokio::task::spawn_local(task));
    }
}

/// On the tokio runtime's worker threads.
pub struct Threads;

impl Spawn for Threads {
    fn spawn<F: Future<Output = ()> + Send + 'static>(&self, task: F) {
        drop(tokio::spawn(task));
    }
}

/// Runs the load phase from `start`: `load` sent to `authorities` (the target
/// replicas' addresses, in the order of `load.targets`) until the schedule
/// ends or `stop` is set, then waits for the last answer or deadline.
pub async fn drive<T: Transport>(
    client: HttpClient<T>,
    load: Load,
    authorities: Vec<String>,
    start: Instant,
    stop: Arc<AtomicBool>,
    spawn: impl Spawn,
) {
    let Load {
        path,
        deadline,
        schedule,
        answers,
        ..
    } = load;
    if authorities.is_empty() {
        return;
    }
    let in_flight = Arc::new(AtomicUsize::new(0));
    for (i, at) in schedule.enumerate() {
        tokio::time::sleep_until(start + at).await;
        if stop.load(Ordering::Relaxed) {
            break;
        }
        answers.sent(i, at);
        let client = client.clone();
        let target = authorities[i % authorities.len()].clone();
        let path = path.clone();
        let answers = answers.clone();
        let in_flight = in_flight.clone();
        in_flight.fetch_add(1, Ordering::Relaxed);
        spawn.spawn(async move {
            let record = request::send(&client, &target, &path, i, at, start + at, deadline).await;
            answers.answered(i, record);
            in_flight.fetch_sub(1, Ordering::Relaxed);
        });
    }
    // Every request ends by its deadline; wait for the last one, a
    // millisecond at a time (bounded: the deadline plus a second). One that
    // never reports back is unanswered ([`request::unanswered`]).
    let drain_end = Instant::now() + deadline + Duration::from_secs(1);
    while in_flight.load(Ordering::Relaxed) > 0 && Instant::now() < drain_end {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}
