//! The dead-man switch's heartbeat: while a Docker run lives, squall renews
//! the `lease` of every instance whose nft table holds rules ([`super::nft`],
//! "The dead-man switch"), every [`nft::RENEW_EVERY`]. The renewals run in a
//! task of their own, so a fault change or a slow engine call never holds
//! them up; when the run ends (or squall dies) they stop, and the kernel
//! lifts every rule within [`nft::LEASE`].

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex, PoisonError};

use super::nft;

/// The instances whose leases are renewed: name -> (pid, own address).
type Held = Arc<Mutex<BTreeMap<String, (i64, Ipv4Addr)>>>;

/// The renewing task of one run; dropped, it stops.
pub struct Lease {
    held: Held,
    task: tokio::task::JoinHandle<()>,
}

impl Lease {
    /// Starts renewing for the tables named `table` (none held yet).
    pub fn start(table: String) -> Lease {
        let held: Held = Arc::default();
        let renewing = Arc::clone(&held);
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(nft::RENEW_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let now: Vec<(String, (i64, Ipv4Addr))> = renewing
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .iter()
                    .map(|(n, h)| (n.clone(), *h))
                    .collect();
                let renewals = now.iter().map(|(name, (pid, own))| {
                    let script = nft::renewal(&table, *own);
                    async move {
                        if let Err(e) = nft::run_in(*pid, &script).await {
                            // A container that just died or restarted: its
                            // next install holds it again.
                            tracing::debug!(instance = %name, error = %e, "lease not renewed");
                        }
                    }
                });
                futures_util::future::join_all(renewals).await;
            }
        });
        Lease { held, task }
    }

    /// `instance` (process `pid`, address `own`) now has rules: renew them.
    pub fn hold(&self, instance: &str, pid: i64, own: Ipv4Addr) {
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(instance.to_owned(), (pid, own));
    }

    /// `instance` has no rules, or no process: stop renewing it.
    pub fn release(&self, instance: &str) {
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(instance);
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.task.abort();
    }
}
