//! Each network fault does what it says, measured: latency adds its delay to
//! a round trip, a one-way cut stops one direction only, loss drops the asked
//! fraction of packets.

use std::time::Duration;

use squall::docker::journal::Journal;
use squall::docker::run::{new_run_id, specs};
use squall::docker::session::Session;
use squall::engine::Desired;
use squall::fault::{Effect, WORKLOAD_HOST};
use squall_fixture::{HttpClient, Tokio};
use tokio::time::Instant;

use crate::{assert_clean, docker, rt, scenario, setup, Cleanup};

/// a calls b, b calls a: a's `/x` answers 200 only if a can reach b, b's
/// `/z` only if b can reach a.
const PAIR: &str = r#"
duration = "10s"
workload = { target = "a", path = "/x", rate = 10, deadline = "500ms" }
[services.a]
[services.a.endpoints."/x"]
calls = [{ to = "b", path = "/y", timeout = "200ms" }]
[services.a.endpoints."/w"]
work = "0ms"
[services.b]
[services.b.endpoints."/y"]
work = "0ms"
[services.b.endpoints."/z"]
calls = [{ to = "a", path = "/w", timeout = "200ms" }]
"#;

async fn session(text: &str, intercepted: Vec<(String, String)>) -> Session {
    let s = scenario(text);
    let run = new_run_id();
    let journal = Journal::create(&run).unwrap();
    Session::create(
        docker().await,
        &run,
        journal,
        specs(&s, 1).unwrap(),
        intercepted,
        Default::default(),
    )
    .await
    .unwrap()
}

/// Median of `n` sequential round trips to `authority` (pooled connection).
async fn median_rtt(client: &HttpClient<Tokio>, authority: &str, path: &str, n: usize) -> Duration {
    let mut all = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let reply = client
            .get(authority, path, &http::HeaderMap::new())
            .await
            .unwrap();
        assert_eq!(reply.status, 200);
        all.push(t.elapsed());
    }
    all.sort();
    all[n / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[test]
fn latency_adds_its_delay_to_a_round_trip() {
    let _lock = setup();
    rt().block_on(async {
        let link = ("a-1".to_owned(), WORKLOAD_HOST.to_owned());
        let mut s = session(PAIR, vec![link.clone()]).await;
        let run = s.run.clone();
        let _cleanup = Cleanup(run.clone());
        let a = s.authority("a-1").unwrap();
        let b = s.authority("b-1").unwrap();
        let client = HttpClient::<Tokio>::new();
        let result = async {
            // Warm the pools, then measure a-1's own endpoint (no downstream call).
            median_rtt(&client, &a, "/w", 20).await;
            let before = median_rtt(&client, &a, "/w", 100).await;
            let delay = Effect::Delay {
                a: link.0.clone(),
                b: link.1.clone(),
                delay: Duration::from_millis(50),
                jitter: Duration::ZERO,
            };
            s.reconcile(&Desired::of(std::slice::from_ref(&delay)), &[], Instant::now()).await.unwrap();
            let during = median_rtt(&client, &a, "/w", 60).await;
            // Another link is untouched.
            let other = median_rtt(&client, &b, "/y", 20).await;
            s.heal_all().await.unwrap();
            let after = median_rtt(&client, &a, "/w", 60).await;
            (before, during, other, after)
        }
        .await;
        s.heal_all().await.unwrap();
        s.teardown().await.unwrap();
        let (before, during, other, after) = result;
        let added = ms(during) - ms(before);
        eprintln!(
            "latency: before {:.2}ms, with +50ms {:.2}ms (added {added:.2}ms), other link {:.2}ms, healed {:.2}ms",
            ms(before),
            ms(during),
            ms(other),
            ms(after)
        );
        assert!((45.0..=55.0).contains(&added), "added {added:.2}ms, asked 50ms");
        assert!(ms(other) < 10.0, "another link slowed: {other:?}");
        assert!(ms(after) < ms(before) + 5.0, "not healed: {after:?}");
        assert_clean(Some(&run)).await;
    });
}

async fn status(client: &HttpClient<Tokio>, authority: &str, path: &str) -> Option<u16> {
    tokio::time::timeout(
        Duration::from_secs(2),
        client.get(authority, path, &http::HeaderMap::new()),
    )
    .await
    .ok()
    .and_then(Result::ok)
    .map(|r| r.status)
}

/// Polls until `path` on `authority` answers `want` (bounded), returns whether it did.
async fn becomes(client: &HttpClient<Tokio>, authority: &str, path: &str, want: u16) -> bool {
    for _ in 0..40 {
        if status(client, authority, path).await == Some(want) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

#[test]
fn a_one_way_partition_cuts_one_direction_only() {
    let _lock = setup();
    rt().block_on(async {
        let mut s = session(PAIR, Vec::new()).await;
        let run = s.run.clone();
        let _cleanup = Cleanup(run.clone());
        let a = s.authority("a-1").unwrap();
        let b = s.authority("b-1").unwrap();
        let client = HttpClient::<Tokio>::new();
        let cut = |from: &str, to: &str| Effect::Cut {
            from: from.into(),
            to: to.into(),
        };
        let result = async {
            let healthy = (
                status(&client, &a, "/x").await,
                status(&client, &b, "/z").await,
            );
            let one_way = [cut("a-1", "b-1")];
            s.reconcile(&Desired::of(&one_way), &[], Instant::now())
                .await
                .unwrap();
            let cut_one_way = (
                status(&client, &a, "/x").await,
                status(&client, &b, "/z").await,
            );
            s.heal_all().await.unwrap();
            let healed = becomes(&client, &a, "/x", 200).await;
            let both = [cut("a-1", "b-1"), cut("b-1", "a-1")];
            s.reconcile(&Desired::of(&both), &[], Instant::now())
                .await
                .unwrap();
            let cut_both = (
                status(&client, &a, "/x").await,
                status(&client, &b, "/z").await,
            );
            s.heal_all().await.unwrap();
            let healed_both =
                becomes(&client, &b, "/z", 200).await && becomes(&client, &a, "/x", 200).await;
            (healthy, cut_one_way, healed, cut_both, healed_both)
        }
        .await;
        s.heal_all().await.unwrap();
        s.teardown().await.unwrap();
        let (healthy, one_way, healed, both, healed_both) = result;
        eprintln!("partition: healthy {healthy:?}, a->b cut {one_way:?}, both cut {both:?}");
        assert_eq!(healthy, (Some(200), Some(200)));
        // a cannot reach b (its required call times out: 502); b still reaches a.
        assert_eq!(one_way, (Some(502), Some(200)));
        assert!(healed, "a -> b did not come back after the heal");
        assert_eq!(both, (Some(502), Some(502)));
        assert!(healed_both, "the two-way cut did not heal");
        assert_clean(Some(&run)).await;
    });
}

/// Packets counted by the probe table's rule, from `nft list table`.
fn counted(listing: &str) -> u64 {
    listing
        .split_whitespace()
        .skip_while(|w| *w != "packets")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[test]
fn loss_drops_the_asked_fraction_of_packets() {
    let _lock = setup();
    rt().block_on(async {
        let mut s = session(PAIR, Vec::new()).await;
        let run = s.run.clone();
        let _cleanup = Cleanup(run.clone());
        let pid = s.pid("a-1").unwrap();
        let ip = s.address("a-1").unwrap();
        // A probe table of the test's own, after squall's (priority 0 > -10),
        // counts the datagrams that survive squall's loss rule.
        let probe = format!("squall_{run}_probe");
        let setup_probe = format!(
            "table ip {probe} {{\n chain input {{\n type filter hook input priority 0; policy accept;\n udp dport 9 counter\n }}\n}}\n"
        );
        squall::docker::nft::run_in(pid, &setup_probe).await.unwrap();
        let loss = Effect::Loss {
            a: "a-1".into(),
            b: WORKLOAD_HOST.into(),
            ppm: 300_000,
        };
        s.reconcile(&Desired::of(std::slice::from_ref(&loss)), &[], Instant::now()).await.unwrap();
        const SENT: u64 = 4000;
        let socket = std::net::UdpSocket::bind("0.0.0.0:0").unwrap();
        for i in 0..SENT {
            socket.send_to(b"squall loss probe", (ip, 9)).unwrap();
            if i % 200 == 0 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let listing = squall::docker::nft::nft_in(pid, &["list", "table", "ip", &probe], "").await.unwrap();
        squall::docker::nft::nft_in(pid, &["delete", "table", "ip", &probe], "").await.unwrap();
        s.heal_all().await.unwrap();
        s.teardown().await.unwrap();
        let arrived = counted(&listing);
        let rate = 1.0 - arrived as f64 / SENT as f64;
        eprintln!("loss: asked 0.3, measured {rate:.3} ({arrived} of {SENT} datagrams arrived)");
        // Binomial sd at n = 4000 is 0.007: +-0.04 is over 5 sd.
        assert!((0.26..=0.34).contains(&rate), "measured loss {rate:.3}");
        assert_clean(Some(&run)).await;
    });
}
