//! A wake-up on real time accurate to tens of microseconds, for the
//! workload's senders ([`super::load::real_time`]).
//!
//! tokio's timer has a resolution of one millisecond (a sleep ends on the
//! first millisecond tick at or after its deadline, and the runtime parks in
//! whole milliseconds), so a request sent on it starts up to 1-2 ms late and
//! every latency measured from its scheduled instant carries that. A
//! `timerfd` registered with the runtime's reactor fires at the instant
//! itself (timerfds get no timer slack), while the runtime goes on serving
//! the thread's other connections; no thread spins. No crate wraps a timerfd
//! for tokio that is kept up, and it is a dozen lines over rustix.

use std::io;
use std::os::fd::OwnedFd;
use std::time::Duration;

use rustix::time::{
    timerfd_create, timerfd_settime, Itimerspec, TimerfdClockId, TimerfdFlags, TimerfdTimerFlags,
    Timespec,
};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::time::Instant;

/// One timer, armed for one instant at a time.
pub struct Timer {
    fd: AsyncFd<OwnedFd>,
}

impl Timer {
    /// A timer on the monotonic clock (the one `Instant` reads), on the
    /// current runtime's reactor.
    pub fn new() -> io::Result<Self> {
        let fd = timerfd_create(
            TimerfdClockId::Monotonic,
            TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
        )?;
        // SAFETY: the descriptor is an `OwnedFd` the `AsyncFd` owns: open,
        // and the same file, for as long as it is registered.
        let fd = unsafe { AsyncFd::register_with_interest(fd, Interest::READABLE) }?;
        Ok(Timer { fd })
    }

    /// Waits until `at` (at once if it has passed).
    pub async fn until(&self, at: Instant) -> io::Result<()> {
        let Some(wait) = at
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
        else {
            return Ok(());
        };
        timerfd_settime(
            self.fd.get_ref(),
            TimerfdTimerFlags::empty(),
            &Itimerspec {
                it_interval: timespec(Duration::ZERO),
                it_value: timespec(wait),
            },
        )?;
        loop {
            let mut ready = self.fd.readable().await?;
            // The expiry count: reading it disarms the readiness.
            let mut count = [0u8; 8];
            match rustix::io::read(self.fd.get_ref(), &mut count) {
                Ok(_) => return Ok(()),
                Err(rustix::io::Errno::AGAIN) => ready.clear_ready(),
                Err(e) => return Err(e.into()),
            }
        }
    }
}

fn timespec(d: Duration) -> Timespec {
    Timespec {
        tv_sec: d.as_secs() as _,
        tv_nsec: d.subsec_nanos() as _,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// No wake-up comes before its instant, and the median within a
    /// millisecond of it (tokio's own timer, on instants off its
    /// millisecond grid, is late by 0.5-2 ms).
    #[tokio::test]
    async fn wakes_at_the_instant_not_on_the_next_millisecond() {
        let timer = Timer::new().unwrap();
        let mut lags = Vec::new();
        for i in 0..50u64 {
            // Off the millisecond grid on purpose.
            let at = Instant::now() + Duration::from_micros(1_300 + 37 * i);
            timer.until(at).await.unwrap();
            let now = Instant::now();
            assert!(now >= at, "woke {:?} early", at - now);
            lags.push(now - at);
        }
        lags.sort();
        let median = lags[lags.len() / 2];
        assert!(median < Duration::from_millis(1), "median lag {median:?}");
        // An instant that has passed returns at once.
        timer.until(Instant::now()).await.unwrap();
    }
}
