//! The workload driver, the same on every backend: open loop, each request
//! sent at its scheduled instant on the backend's clock whatever happened to
//! the ones before, to the target's replicas in turn, through
//! [`request::send`]; every request sent and every answer goes to the run's
//! [`Answers`] as it happens. Latency counts from the scheduled instant, so a
//! request the driver sends late is measured late (no coordinated omission).
//!
//! Two ways to keep the schedule:
//!
//! - [`simulated`]: one task on turmoil's workload host, sleeping on
//!   simulated time. The clock only moves when every host is idle, so the
//!   driver is never behind; the tick is its resolution.
//! - [`real_time`]: for real backends, several sender threads, each with a
//!   tokio runtime and connection pool of its own and every `n`-th request
//!   of the schedule. tokio's timer wakes a task up to a millisecond or two
//!   late, which would be in every latency measured; so a sender sleeps on a
//!   timerfd ([`Timer`]) until [`EARLY`] before the due instant and spins the
//!   rest of the way, and the reactor serves its connections meanwhile. Own
//!   threads rather than the run's runtime: no request waits for a worker
//!   busy with the engine, the proxy or another request, and no answer
//!   crosses threads. A request sent more than
//!   [`LATE_AFTER`](crate::workload::LATE_AFTER) after its instant counts as
//!   behind schedule ([`crate::workload::Behind`]), and the run says so.

use std::future::Future;
use std::io;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, TryRecvError};
use std::sync::Arc;
use std::time::Duration;

use http::Uri;
use squall_fixture::client::target_uri;
use squall_fixture::{HttpClient, Tokio, Transport};
use tokio::time::Instant;

use super::backend::Load;
use super::collect::Answers;
use super::request;
use super::timer::Timer;
use crate::record::RequestRecord;

/// How long before a request's instant a real-time sender's [`Timer`]
/// wakes it, to spin the rest of the way: a timerfd's wake-up takes some
/// tens of microseconds on a virtual machine. Closer than this, the sender
/// does not sleep at all (at high rates, it never does).
pub const EARLY: Duration = Duration::from_micros(50);

/// [`EARLY`] without a timerfd: tokio rounds a sleep up to its next
/// millisecond and the runtime parks in whole milliseconds, so a sleep ends
/// up to 2 ms after it was due, and the sender yields the rest of the way
/// (this much of a core per request at low rates).
pub const SPIN: Duration = Duration::from_millis(2);

/// Sender threads for [`real_time`] when the backend does not say: one per
/// core, at most four (one thread sends some 20 000 requests a second).
pub fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1)
        .clamp(1, 4)
}

/// Runs the load phase on turmoil's workload host from `start`: `load` sent
/// to `authorities` (the target replicas' addresses, in the order of
/// `load.targets`) until the schedule ends or `stop` is set, then waits for
/// the last answer or deadline.
pub async fn simulated<T: Transport>(
    client: HttpClient<T>,
    load: Load,
    authorities: Vec<String>,
    start: Instant,
    stop: Arc<AtomicBool>,
) {
    let sink = Sink::Direct(load.answers.clone());
    let Some(shared) = Shared::new(&load, &authorities, start, stop, sink) else {
        return;
    };
    sender(client, &shared, load.schedule.enumerate(), Pace::Simulated).await;
}

/// [`simulated`] on real time, from `threads` sender threads (at least
/// one; [`default_threads`]) for the targets' addresses in `authorities`.
/// Ends when every sender has ended; an error only if a thread could not
/// be started (the senders already started then stop early).
///
/// The senders never touch the run's [`Answers`] themselves: updating the
/// figures takes a lock, and closing a second of them takes milliseconds,
/// which would hold back every sender waiting for the lock. They queue what
/// happened instead, and this task hands it over every [`HAND_OVER`].
pub async fn real_time(
    load: Load,
    authorities: Vec<String>,
    start: Instant,
    stop: Arc<AtomicBool>,
    threads: usize,
) -> io::Result<()> {
    let (queue, events) = mpsc::channel();
    let Some(shared) = Shared::new(&load, &authorities, start, stop.clone(), Sink::Queue(queue))
    else {
        return Ok(());
    };
    let threads = threads.max(1);
    let mut started = Ok(());
    for n in 0..threads {
        let shared = shared.clone();
        let mine = load.schedule.clone().enumerate().skip(n).step_by(threads);
        let spawned = std::thread::Builder::new()
            .name(format!("squall-load-{n}"))
            .spawn(move || {
                match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => tokio::task::LocalSet::new().block_on(&runtime, async {
                        // The timer and the pool belong to this runtime.
                        let client = HttpClient::<Tokio>::new();
                        sender(client, &shared, mine, Pace::precise()).await
                    }),
                    Err(e) => tracing::error!("load sender {n} has no runtime: {e}"),
                }
            });
        if let Err(e) = spawned {
            stop.store(true, Ordering::Relaxed);
            started = Err(e);
            break;
        }
    }
    // The queue closes when the last sender (and its last request) is gone.
    drop(shared);
    loop {
        tokio::time::sleep(HAND_OVER).await;
        let mut answers = load.answers.lock();
        loop {
            match events.try_recv() {
                Ok(Event::Sent(i, at, lag)) => answers.sent(i, at, lag),
                Ok(Event::Answered(i, record)) => answers.answered(i, record),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return started,
            }
        }
    }
}

/// How often [`real_time`] hands the senders' news to the run.
const HAND_OVER: Duration = Duration::from_millis(2);

/// What a real-time sender tells the run, in the order it happened.
enum Event {
    /// Request `.0` was sent, scheduled `.1` into the load phase, `.2` late.
    Sent(usize, Duration, Duration),
    Answered(usize, RequestRecord),
}

/// Where a sender's news goes.
#[derive(Clone)]
enum Sink {
    /// Straight to the run (one simulated host: no one waits on the lock).
    Direct(Answers),
    /// Queued for [`real_time`] to hand over.
    Queue(mpsc::Sender<Event>),
}

impl Sink {
    fn sent(&self, i: usize, at: Duration, lag: Duration) {
        match self {
            Sink::Direct(answers) => answers.sent(i, at, lag),
            // Only fails once `real_time` is gone, and then no one is listening.
            Sink::Queue(queue) => drop(queue.send(Event::Sent(i, at, lag))),
        }
    }

    fn answered(&self, i: usize, record: RequestRecord) {
        match self {
            Sink::Direct(answers) => answers.answered(i, record),
            Sink::Queue(queue) => drop(queue.send(Event::Answered(i, record))),
        }
    }
}

/// What every sender of one run shares.
#[derive(Clone)]
struct Shared {
    /// Each target replica's URI, built once.
    targets: Arc<[Uri]>,
    deadline: Duration,
    sink: Sink,
    start: Instant,
    stop: Arc<AtomicBool>,
}

impl Shared {
    /// `None` when there is nothing to send to (no target replica, or a
    /// target that makes no URI: the scenario's validation rules both out).
    fn new(
        load: &Load,
        authorities: &[String],
        start: Instant,
        stop: Arc<AtomicBool>,
        sink: Sink,
    ) -> Option<Self> {
        let targets: Vec<Uri> = authorities
            .iter()
            .map(|a| target_uri(a, &load.path))
            .collect::<Result<_, _>>()
            .map_err(|e| tracing::error!("the workload has no target: {e}"))
            .ok()?;
        (!targets.is_empty()).then(|| Shared {
            targets: targets.into(),
            deadline: load.deadline,
            sink,
            start,
            stop,
        })
    }
}

/// How a sender waits for a request's instant.
enum Pace {
    /// On turmoil's clock, which never runs ahead of the sender.
    Simulated,
    /// On real time, to some microseconds: a [`Timer`] until [`EARLY`]
    /// before the instant, then spinning until the instant. Without a timer
    /// (it could not be made), tokio's sleep until [`SPIN`] before it, then
    /// yielding.
    Precise(Option<Timer>),
}

impl Pace {
    fn precise() -> Self {
        let timer = Timer::new()
            .map_err(|e| tracing::warn!("no timerfd ({e}): the load driver spins instead"))
            .ok();
        Pace::Precise(timer)
    }

    /// Waits until `due`; says how late it got there (zero in simulated
    /// time, whose tick is the schedule's resolution).
    async fn until(&self, due: Instant) -> Duration {
        let timer = match self {
            Pace::Simulated => {
                tokio::time::sleep_until(due).await;
                return Duration::ZERO;
            }
            Pace::Precise(timer) => timer,
        };
        match timer {
            Some(timer) => {
                if due.saturating_duration_since(Instant::now()) > EARLY
                    && timer.until(due - EARLY).await.is_err()
                {
                    tokio::time::sleep_until(due.checked_sub(SPIN).unwrap_or(due)).await;
                }
                // The last stretch, spinning: yielding would ask the reactor
                // (a system call) at every turn, and the thread's answers
                // can wait these few microseconds.
                while Instant::now() < due {
                    std::hint::spin_loop();
                }
            }
            None => {
                tokio::time::sleep_until(due.checked_sub(SPIN).unwrap_or(due)).await;
                while Instant::now() < due {
                    tokio::task::yield_now().await;
                }
            }
        }
        Instant::now() - due
    }
}

/// Sends `schedule`'s requests (index, time into the load phase) as
/// `shared` says, each as a task of the current `LocalSet`, then waits for
/// the last answer or deadline.
async fn sender<T: Transport>(
    client: HttpClient<T>,
    shared: &Shared,
    schedule: impl Iterator<Item = (usize, Duration)>,
    pace: Pace,
) {
    let in_flight = Rc::new(());
    for (i, at) in schedule {
        let due = shared.start + at;
        let lag = pace.until(due).await;
        if shared.stop.load(Ordering::Relaxed) {
            break;
        }
        shared.sink.sent(i, at, lag);
        let task = request_task(&client, shared, i, at, due);
        // Join handles are not kept: a finished task's memory is freed only
        // with its handle, ~2 KB a request for the whole run. The `Rc` clone
        // counts the task as in flight until it ends.
        let count = in_flight.clone();
        drop(tokio::task::spawn_local(async move {
            task.await;
            drop(count);
        }));
    }
    // Every request ends by its deadline; wait for the last one, a
    // millisecond at a time (bounded: the deadline plus a second). One that
    // never reports back is unanswered ([`request::unanswered`]).
    let drain_end = Instant::now() + shared.deadline + Duration::from_secs(1);
    while Rc::strong_count(&in_flight) > 1 && Instant::now() < drain_end {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Request `i`, scheduled `at` into the load phase and due at `due`, to the
/// next replica in turn; its answer goes to the run's [`Answers`].
fn request_task<T: Transport>(
    client: &HttpClient<T>,
    shared: &Shared,
    i: usize,
    at: Duration,
    due: Instant,
) -> impl Future<Output = ()> + 'static {
    let client = client.clone();
    let target = shared.targets[i % shared.targets.len()].clone();
    let (sink, deadline) = (shared.sink.clone(), shared.deadline);
    async move {
        let record = request::send(&client, &target, i, at, due, deadline).await;
        sink.answered(i, record);
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use squall_fixture::{serve_on_listener, Control, InstanceConfig};

    use super::*;
    use crate::engine::collect::{Collected, Collector};
    use crate::record::Outcome;
    use crate::scenario::Arrival;
    use crate::workload::{Arrivals, LATE_AFTER};

    const ONE: &str = r#"
duration = "1s"
workload = { target = "b", path = "/y", rate = 10, deadline = "1s" }
[services.b]
[services.b.endpoints."/y"]
work = "0ms"
"#;

    /// The fixture's `b-1` serving `/y` at once on 127.0.0.1, on a runtime
    /// thread of its own (as a container would be).
    fn server() -> SocketAddr {
        let (tell, told) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let listener = Tokio::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
                    .await
                    .unwrap();
                tell.send(Tokio::local_addr(&listener).unwrap()).unwrap();
                let mut config: InstanceConfig = serde_json::from_value(serde_json::json!(
                    { "service": "b", "instance": "b-1", "port": 0 }
                ))
                .unwrap();
                config.endpoints.insert(
                    "/y".into(),
                    serde_json::from_value(serde_json::json!({})).unwrap(),
                );
                let _ = serve_on_listener::<Tokio>(listener, config, Control::default()).await;
            });
        });
        told.recv().unwrap()
    }

    /// The soft limit on open files up to the hard one (at most 65,536).
    fn raise_file_limit() {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit and setrlimit only read and write `limit`.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
                limit.rlim_cur = limit.rlim_max.min(65_536);
                libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
            }
        }
    }

    /// `rate` for `duration` to `addr` from `threads` senders.
    fn drive(addr: SocketAddr, rate: f64, duration: Duration, threads: usize) -> Collected {
        let scenario = crate::scenario::parse(ONE, std::path::Path::new("one.toml")).unwrap();
        let services = crate::fault::instances(&scenario);
        let figures = crate::invariant::Figures::new(&scenario, duration, &[], &services);
        let deadline = Duration::from_secs(1);
        let instances = vec!["b-1".to_owned()];
        let answers = Answers::new(Collector::new(figures, instances, deadline, true));
        let load = Load {
            targets: vec!["b-1".into()],
            path: "/y".into(),
            deadline,
            schedule: Arrivals::new(rate, Arrival::Constant, duration, 1),
            answers: answers.clone(),
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let start = Instant::now() + Duration::from_millis(50);
            let stop = Arc::new(AtomicBool::new(false));
            real_time(load, vec![addr.to_string()], start, stop, threads)
                .await
                .unwrap();
        });
        answers.into_inner().unwrap().finish(Vec::new())
    }

    /// Every request of the schedule is sent once, from any sender, and
    /// its answer lands under its own index.
    #[test]
    fn senders_share_the_schedule_and_every_answer_is_recorded() {
        let collected = drive(server(), 300.0, Duration::from_millis(500), 3);
        assert_eq!(collected.figures.offered, 150);
        assert_eq!(collected.requests.len(), 150);
        for (i, r) in collected.requests.iter().enumerate() {
            assert_eq!(
                r.scheduled,
                Duration::from_secs_f64(i as f64 / 300.0),
                "request {i}"
            );
            assert_eq!(r.outcome, Outcome::Ok, "request {i}");
        }
    }

    /// Asked for more than one sender can send, the driver still sends
    /// every request, measures each from its instant, and says how far
    /// behind it fell.
    #[test]
    fn a_driver_that_cannot_keep_the_rate_says_so() {
        // 5,000 requests due within 5 ms: one sender takes far longer. Each
        // is a connection (two descriptors in this process), so the soft
        // file limit is raised first: the other tests share it.
        raise_file_limit();
        let collected = drive(server(), 1_000_000.0, Duration::from_millis(5), 1);
        assert_eq!(collected.figures.offered, 5_000);
        let behind = collected.figures.behind;
        assert!(behind.late > 0, "{behind:?}");
        assert!(behind.worst > LATE_AFTER, "{behind:?}");
        assert_eq!(collected.requests.len(), 5_000);
    }
}
