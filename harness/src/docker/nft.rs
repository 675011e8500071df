//! nftables inside an instance's network namespace: the drop rules of
//! partitions, isolation and loss, and the redirect that feeds the latency
//! proxy.
//!
//! Each instance gets one table, `ip squall_<run>`, installed when its
//! container starts (again after each restart: a new process has a new
//! namespace) with three chains:
//!
//! ```text
//! table ip squall_r1a2b3 {
//!   chain input  { type filter hook input priority -10; policy accept; ... }
//!   chain output { type filter hook output priority -10; policy accept; ... }
//!   chain pre    { type nat hook prerouting priority -100; policy accept;
//!                  ct state new counter; ... }
//! }
//! ```
//!
//! The `pre` chain exists from the start, so connection tracking follows every
//! connection from its first packet: a rule added mid-run neither resets live
//! connections nor guesses their direction from a packet in the middle
//! (research §0b pitfall 1). A change rewrites the chains in one `nft -f`
//! transaction, entered with `nsenter -t <pid> -n` from the host.
//!
//! Rules, for an instance X with address x:
//! - cut A -> X both ways: `ip saddr a drop` in X's input; one way (A may not
//!   open connections to X, X may still call A): `ip saddr a ct direction original drop`;
//! - cut X -> workload: `ip daddr <gateway> [ct direction original] drop` in X's output;
//! - loss on a link X-B: `ip saddr b numgen random mod 1000000 < ppm drop` in X's input
//!   (and `ip daddr` in the output when B is the workload, which has no namespace of ours);
//! - latency on a link X-B: `ip saddr b tcp dport <port> redirect to :15213` in `pre`.
//!
//! **The dead-man switch.** Every rule is gated on the table's `lease` set,
//! which holds the instance's own address with a kernel timeout of
//! [`LEASE`]: input and `pre` rules match `ip daddr @lease`, output rules
//! `ip saddr @lease`. squall renews the element every [`RENEW_EVERY`] while
//! the run lives ([`super::lease`]); if squall dies (SIGKILL, its machine
//! lost) the element expires and every drop and redirect stops matching
//! within [`LEASE`], with no `squall heal`: the partitions lift and the
//! intercepted links bypass the latency proxy that died with squall. The
//! empty table itself stays until `squall heal`.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::process::Stdio;

use tokio::io::AsyncWriteExt;

use super::DockerError;
use crate::engine::Desired;

/// The port the latency proxy listens on inside each intercepted namespace.
pub const PROXY_PORT: u16 = 15213;

/// The mark the proxy's own upstream sockets carry (`SO_MARK`), so no rule
/// ever redirects them again.
pub const PROXY_MARK: u32 = 0x5351;

/// How long the rules of an instance stay in force without a renewal.
pub const LEASE: std::time::Duration = std::time::Duration::from_secs(5);

/// How often squall renews each lease: a renewal may be late by four of
/// these (a loaded machine) before a fault lifts early.
pub const RENEW_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// How long one `nsenter ... nft` may take.
const NFT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The table of run `run`.
pub fn table_name(run: &str) -> String {
    format!("squall_{run}")
}

/// The rules one instance's table holds, per chain, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules {
    pub input: BTreeSet<String>,
    pub output: BTreeSet<String>,
    pub pre: BTreeSet<String>,
}

impl Rules {
    /// No rule in any chain: nothing to keep a lease for.
    pub fn is_empty(&self) -> bool {
        self.input.is_empty() && self.output.is_empty() && self.pre.is_empty()
    }
}

/// The rules of `instance`, given the active effects and the links whose
/// traffic goes through the proxy. `addr` maps an instance (or
/// [`crate::fault::WORKLOAD_HOST`], to the gateway) to its address, `port`
/// an instance to the port it serves on. `ours` says which hosts squall may
/// put rules in: a cut towards any other host (the workload; on a game day,
/// a container squall may not touch) is dropped on its way out of
/// `instance` instead of on its way in, and loss on a link to one is
/// applied both ways here.
pub fn rules_for(
    instance: &str,
    want: &Desired,
    intercepted: &[(String, String)],
    addr: impl Fn(&str) -> Option<Ipv4Addr>,
    ours: impl Fn(&str) -> bool,
    port: u16,
) -> Rules {
    let mut rules = Rules::default();
    for (from, to) in &want.cuts {
        let both = want.is_cut(to, from);
        let ct = if both { "" } else { " ct direction original" };
        if to == instance {
            if let Some(a) = addr(from) {
                rules.input.insert(format!("ip saddr {a}{ct} drop"));
            }
        } else if from == instance && !ours(to) {
            if let Some(a) = addr(to) {
                rules.output.insert(format!("ip daddr {a}{ct} drop"));
            }
        }
    }
    for (a, b, ppm) in &want.loss {
        let other = if a == instance {
            b
        } else if b == instance {
            a
        } else {
            continue;
        };
        let Some(o) = addr(other) else { continue };
        let drop = format!("numgen random mod 1000000 < {ppm} drop");
        rules.input.insert(format!("ip saddr {o} {drop}"));
        if !ours(other) {
            rules.output.insert(format!("ip daddr {o} {drop}"));
        }
    }
    for (a, b) in intercepted {
        let other = if a == instance {
            b
        } else if b == instance {
            a
        } else {
            continue;
        };
        if let Some(o) = addr(other) {
            rules.pre.insert(format!(
                "ip saddr {o} tcp dport {port} redirect to :{PROXY_PORT}"
            ));
        }
    }
    rules
}

/// The `nft -f` script that makes `table` hold exactly `rules`, in one
/// transaction, gated on a fresh lease for `own`, the instance's address.
pub fn script(table: &str, rules: &Rules, own: Ipv4Addr) -> String {
    let mut s = format!(
        "table ip {table} {{\n\
         \tset lease {{ type ipv4_addr; flags timeout; }}\n\
         \tchain input {{ type filter hook input priority -10; policy accept; }}\n\
         \tchain output {{ type filter hook output priority -10; policy accept; }}\n\
         \tchain pre {{ type nat hook prerouting priority -100; policy accept; }}\n\
         }}\n\
         flush chain ip {table} input\n\
         flush chain ip {table} output\n\
         flush chain ip {table} pre\n\
         add rule ip {table} pre ct state new counter\n"
    );
    s.push_str(&renewal(table, own));
    for (chain, set, gate) in [
        ("input", &rules.input, "ip daddr @lease"),
        ("output", &rules.output, "ip saddr @lease"),
        ("pre", &rules.pre, "ip daddr @lease"),
    ] {
        for rule in set {
            s.push_str(&format!("add rule ip {table} {chain} {gate} {rule}\n"));
        }
    }
    s
}

/// The `nft -f` script that renews `table`'s lease for `own` by [`LEASE`]
/// from now (one transaction: the element is never missing in between).
pub fn renewal(table: &str, own: Ipv4Addr) -> String {
    format!(
        "flush set ip {table} lease\nadd element ip {table} lease {{ {own} timeout {}s }}\n",
        LEASE.as_secs()
    )
}

/// Runs `nft -f -` with `script` inside the network namespace of process `pid`.
pub async fn run_in(pid: i64, script: &str) -> Result<String, DockerError> {
    nft_in(pid, &["-f", "-"], script).await
}

/// Runs `nft ARGS` (stdin `input`) in the namespace of `pid`; stdout on success.
pub async fn nft_in(pid: i64, args: &[&str], input: &str) -> Result<String, DockerError> {
    let mut child = tokio::process::Command::new("nsenter")
        .arg("-t")
        .arg(pid.to_string())
        .arg("-n")
        .arg("nft")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            DockerError::Engine(format!(
                "cannot run `nsenter ... nft`: {e} (hint: install `nftables` and `util-linux`; squall needs root for network faults)"
            ))
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(input.as_bytes())
            .await
            .map_err(|e| DockerError::Engine(format!("cannot feed nft: {e}")))?;
    }
    let out = tokio::time::timeout(NFT_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| DockerError::Engine("nft did not finish in 10s".to_owned()))?
        .map_err(|e| DockerError::Engine(format!("nft failed: {e}")))?;
    if !out.status.success() {
        return Err(DockerError::Engine(format!(
            "nft {} in the namespace of pid {pid} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Deletes `table` in the namespace of `pid`, if it is there.
pub async fn delete_table(pid: i64, table: &str) -> Result<(), DockerError> {
    let tables = nft_in(pid, &["list", "tables"], "").await?;
    if tables
        .lines()
        .any(|l| l.trim() == format!("table ip {table}"))
    {
        nft_in(pid, &["delete", "table", "ip", table], "").await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{FaultState, Step};
    use crate::fault::{Effect, WORKLOAD_HOST};

    /// What `effects`, all in force, want.
    fn want(effects: &[Effect]) -> Desired {
        let mut state = FaultState::default();
        state.apply(&Step {
            inject: effects.to_vec(),
            ..Step::default()
        });
        state.desired()
    }

    fn addr(name: &str) -> Option<Ipv4Addr> {
        match name {
            "a-1" => Some(Ipv4Addr::new(10, 213, 5, 10)),
            "b-1" => Some(Ipv4Addr::new(10, 213, 5, 11)),
            WORKLOAD_HOST => Some(Ipv4Addr::new(10, 213, 5, 1)),
            _ => None,
        }
    }

    fn ours(name: &str) -> bool {
        name != WORKLOAD_HOST
    }

    fn cut(from: &str, to: &str) -> Effect {
        Effect::Cut {
            from: from.into(),
            to: to.into(),
        }
    }

    #[test]
    fn one_way_cuts_match_the_connection_direction() {
        let r = rules_for("b-1", &want(&[cut("a-1", "b-1")]), &[], addr, ours, 80);
        assert_eq!(
            r.input.iter().collect::<Vec<_>>(),
            ["ip saddr 10.213.5.10 ct direction original drop"]
        );
        // The caller side holds nothing: the cut lives on the receiving end.
        assert_eq!(
            rules_for("a-1", &want(&[cut("a-1", "b-1")]), &[], addr, ours, 80),
            Rules::default()
        );
        let both = [cut("a-1", "b-1"), cut("b-1", "a-1")];
        let r = rules_for("a-1", &want(&both), &[], addr, ours, 80);
        assert_eq!(
            r.input.iter().collect::<Vec<_>>(),
            ["ip saddr 10.213.5.11 drop"]
        );
    }

    #[test]
    fn loss_and_redirects() {
        let loss = Effect::Loss {
            a: "a-1".into(),
            b: WORKLOAD_HOST.into(),
            ppm: 300_000,
        };
        let links = [("a-1".to_owned(), WORKLOAD_HOST.to_owned())];
        let r = rules_for("a-1", &want(&[loss]), &links, addr, ours, 80);
        assert_eq!(
            r.input.iter().collect::<Vec<_>>(),
            ["ip saddr 10.213.5.1 numgen random mod 1000000 < 300000 drop"]
        );
        assert_eq!(
            r.output.iter().collect::<Vec<_>>(),
            ["ip daddr 10.213.5.1 numgen random mod 1000000 < 300000 drop"]
        );
        assert_eq!(
            r.pre.iter().collect::<Vec<_>>(),
            ["ip saddr 10.213.5.1 tcp dport 80 redirect to :15213"]
        );
        let s = script("squall_r1", &r, Ipv4Addr::new(10, 213, 5, 10));
        assert!(s.contains(
            "flush chain ip squall_r1 pre\nadd rule ip squall_r1 pre ct state new counter\n"
        ));
    }

    #[test]
    fn every_rule_is_gated_on_a_lease_that_expires_in_the_kernel() {
        let links = [("a-1".to_owned(), WORKLOAD_HOST.to_owned())];
        let cuts = [cut("b-1", "a-1"), cut("a-1", WORKLOAD_HOST)];
        let r = rules_for("a-1", &want(&cuts), &links, addr, ours, 80);
        let s = script("squall_r1", &r, Ipv4Addr::new(10, 213, 5, 10));
        assert!(
            s.contains("flush set ip squall_r1 lease\nadd element ip squall_r1 lease { 10.213.5.10 timeout 5s }\n"),
            "{s}"
        );
        let rules: Vec<&str> = s.lines().filter(|l| l.starts_with("add rule")).collect();
        assert_eq!(
            rules,
            [
                "add rule ip squall_r1 pre ct state new counter",
                "add rule ip squall_r1 input ip daddr @lease ip saddr 10.213.5.11 ct direction original drop",
                "add rule ip squall_r1 output ip saddr @lease ip daddr 10.213.5.1 ct direction original drop",
                "add rule ip squall_r1 pre ip daddr @lease ip saddr 10.213.5.1 tcp dport 80 redirect to :15213",
            ]
        );
    }

    #[test]
    fn a_cut_towards_a_host_squall_may_not_touch_is_dropped_on_the_way_out() {
        // On a game day b-1 is a bystander: a-1 gets both halves of the cut.
        let only_a = |n: &str| n == "a-1";
        let both = [cut("a-1", "b-1"), cut("b-1", "a-1")];
        let r = rules_for("a-1", &want(&both), &[], addr, only_a, 80);
        assert_eq!(
            r.input.iter().collect::<Vec<_>>(),
            ["ip saddr 10.213.5.11 drop"]
        );
        assert_eq!(
            r.output.iter().collect::<Vec<_>>(),
            ["ip daddr 10.213.5.11 drop"]
        );
        let one_way = rules_for("a-1", &want(&[cut("a-1", "b-1")]), &[], addr, only_a, 80);
        assert_eq!(
            one_way.output.iter().collect::<Vec<_>>(),
            ["ip daddr 10.213.5.11 ct direction original drop"]
        );
    }
}
