//! `latency.hlog`: one HdrHistogram per second of the load phase, in the
//! interval-log format HdrHistogram's own tools read (HistogramLogAnalyzer,
//! `plotFiles.html`). Values are microseconds; the max column shows
//! milliseconds (`MaxValueDivisor: 1000`).

use std::time::{Duration, UNIX_EPOCH};

use hdrhistogram::serialization::interval_log::IntervalLogWriterBuilder;
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::Histogram;

use crate::record::RunRecord;

/// Per-second latency histograms of a run.
pub struct Intervals {
    /// Seconds since the Unix epoch at which the load phase started; fixed in
    /// the simulator.
    pub start_epoch_s: u64,
    pub seconds: Vec<(Duration, Histogram<u64>)>,
}

/// The largest latency a histogram tracks: an hour, in microseconds.
const MAX_LATENCY_US: u64 = 3_600_000_000;

/// The simulator's load phase starts at this (arbitrary, fixed) instant.
pub const SIM_EPOCH_S: u64 = 1_800_000_000;

impl Intervals {
    /// Buckets every request's latency by the second it was scheduled in.
    pub fn of(record: &RunRecord, start_epoch_s: u64) -> Self {
        let mut seconds: Vec<(Duration, Histogram<u64>)> = Vec::new();
        for r in &record.requests {
            let t = Duration::from_secs(r.scheduled.as_secs());
            if seconds.last().map(|(s, _)| *s != t).unwrap_or(true) {
                // 1 us to an hour at 3 significant figures: valid bounds, so
                // creation cannot fail; longer latencies saturate at an hour.
                let h = Histogram::new_with_bounds(1, MAX_LATENCY_US, 3)
                    .unwrap_or_else(|_| unreachable!("1..1h at 3 sigfig is valid"));
                seconds.push((t, h));
            }
            if let Some((_, h)) = seconds.last_mut() {
                h.saturating_record(r.latency.as_micros().max(1) as u64);
            }
        }
        Intervals {
            start_epoch_s,
            seconds,
        }
    }
}

/// Renders the interval log.
pub fn render(intervals: &Intervals) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut ser = V2DeflateSerializer::new();
    let start = UNIX_EPOCH + Duration::from_secs(intervals.start_epoch_s);
    let mut writer = IntervalLogWriterBuilder::new()
        .add_comment("squall latency log: microseconds, one histogram per second of load")
        .with_start_time(start)
        .with_base_time(start)
        .with_max_value_divisor(1000.0)
        .begin_log_with(&mut out, &mut ser)?;
    for (t, h) in &intervals.seconds {
        writer
            .write_histogram(h, *t, Duration::from_secs(1), None)
            .map_err(|e| std::io::Error::other(format!("{e:?}")))?;
    }
    drop(writer);
    Ok(out)
}
