//! `latency.hlog`: one HdrHistogram per second of the load phase, in the
//! interval-log format HdrHistogram's own tools read (HistogramLogAnalyzer,
//! `plotFiles.html`). Values are microseconds; the max column shows
//! milliseconds (`MaxValueDivisor: 1000`).
//!
//! A second's histogram is encoded (compressed, a few hundred bytes) as soon
//! as the second is closed ([`crate::invariant::Figures`]), and decoded one at
//! a time to write the log: a histogram is ~190 KB in memory, so keeping one
//! per second of a long run would not do.

use std::time::{Duration, UNIX_EPOCH};

use hdrhistogram::serialization::interval_log::IntervalLogWriterBuilder;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;

use crate::record::RunRecord;

/// Per-second latency histograms of a run.
pub struct Intervals {
    /// Seconds since the Unix epoch at which the load phase started; fixed in
    /// the simulator.
    pub start_epoch_s: u64,
    /// Each second with requests, and its histogram as [`encode`] wrote it.
    pub seconds: Vec<(Duration, Vec<u8>)>,
}

/// The largest latency a histogram tracks: an hour, in microseconds.
const MAX_LATENCY_US: u64 = 3_600_000_000;

/// The simulator's load phase starts at this (arbitrary, fixed) instant.
pub const SIM_EPOCH_S: u64 = 1_800_000_000;

impl Intervals {
    /// The per-second histograms of a run: streamed with its figures, or (a
    /// record that kept its requests instead) bucketed by the second each
    /// request was scheduled in.
    pub fn of(record: &RunRecord, start_epoch_s: u64) -> Self {
        let seconds = match &record.figures {
            Some(figures) => figures.intervals.clone(),
            None => {
                let mut seconds: Vec<(Duration, Vec<Duration>)> = Vec::new();
                for r in &record.requests {
                    let t = Duration::from_secs(r.scheduled.as_secs());
                    match seconds.last_mut() {
                        Some((s, latencies)) if *s == t => latencies.push(r.latency),
                        _ => seconds.push((t, vec![r.latency])),
                    }
                }
                seconds
                    .into_iter()
                    .map(|(t, latencies)| (t, encode(latencies.into_iter())))
                    .collect()
            }
        };
        Intervals {
            start_epoch_s,
            seconds,
        }
    }
}

/// One second's latencies as a compressed HdrHistogram (V2 deflate encoding).
pub fn encode(latencies: impl Iterator<Item = Duration>) -> Vec<u8> {
    // 1 us to an hour at 3 significant figures: valid bounds, so creation
    // cannot fail; longer latencies saturate at an hour.
    let mut h = Histogram::<u64>::new_with_bounds(1, MAX_LATENCY_US, 3)
        .unwrap_or_else(|_| unreachable!("1..1h at 3 sigfig is valid"));
    for l in latencies {
        h.saturating_record(u64::try_from(l.as_micros()).unwrap_or(u64::MAX).max(1));
    }
    let mut out = Vec::new();
    // Serialising into memory fails only on a histogram too large for the format.
    if V2DeflateSerializer::new().serialize(&h, &mut out).is_err() {
        out.clear();
    }
    out
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
    for (t, bytes) in &intervals.seconds {
        let h: Histogram<u64> = Deserializer::new()
            .deserialize(&mut bytes.as_slice())
            .map_err(|e| std::io::Error::other(format!("{e:?}")))?;
        writer
            .write_histogram(&h, *t, Duration::from_secs(1), None)
            .map_err(|e| std::io::Error::other(format!("{e:?}")))?;
    }
    drop(writer);
    Ok(out)
}
