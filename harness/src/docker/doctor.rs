//! `squall doctor`: which fault mechanisms work against this engine, each
//! with a one-line reason.
//!
//! It reaches the engine, looks for the fixture image, creates (and removes) a
//! labelled network and a probe container, enters the probe's network
//! namespace to run nft and start the latency proxy, and probes netem with a
//! throwaway qdisc. Everything it creates carries squall's labels under the
//! run id `doctor<pid>`, and is removed before it returns.

use std::process::Stdio;

use squall_fixture::InstanceConfig;

use super::container::{self, Spec};
use super::image::FIXTURE_IMAGE;
use super::proxy::{Delays, Proxy};
use super::{connect, engine_host, image, network, nft};

/// One mechanism's verdict.
#[derive(Debug, Clone)]
pub struct Check {
    pub name: &'static str,
    /// `Some(true)` works, `Some(false)` does not, `None` for information
    /// (netem is optional).
    pub ok: Option<bool>,
    pub reason: String,
}

impl Check {
    fn new(name: &'static str, result: Result<String, String>) -> Check {
        match result {
            Ok(reason) => Check {
                name,
                ok: Some(true),
                reason,
            },
            Err(reason) => Check {
                name,
                ok: Some(false),
                reason,
            },
        }
    }
}

/// Whether every required mechanism works.
pub fn healthy(checks: &[Check]) -> bool {
    checks.iter().all(|c| c.ok != Some(false))
}

async fn host_tool(program: &str, args: &[&str]) -> Result<String, String> {
    let out = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .await
        .map_err(|e| format!("`{program}` cannot run: {e}"))?;
    let text = String::from_utf8_lossy(if out.status.success() {
        &out.stdout
    } else {
        &out.stderr
    })
    .trim()
    .to_owned();
    if out.status.success() {
        Ok(text)
    } else {
        Err(text)
    }
}

/// Runs every check.
pub async fn diagnose() -> Vec<Check> {
    let mut checks = Vec::new();
    let (docker, version) = match connect().await {
        Ok(v) => v,
        Err(e) => {
            checks.push(Check::new("engine", Err(e.to_string())));
            return checks;
        }
    };
    checks.push(Check::new(
        "engine",
        Ok(format!(
            "Docker {}, API {} at {}",
            version.version.unwrap_or_default(),
            version.api_version.unwrap_or_default(),
            engine_host()
        )),
    ));
    let have_image = image::ensure(&docker, FIXTURE_IMAGE).await;
    checks.push(Check::new(
        "image",
        have_image
            .as_ref()
            .map(|_| format!("{FIXTURE_IMAGE} is on the engine"))
            .map_err(|e| e.to_string()),
    ));
    checks.push(Check::new(
        "nft",
        host_tool("nft", &["--version"])
            .await
            .map_err(|e| format!("{e} (hint: apt-get install nftables)")),
    ));

    let run = format!("doctor{}", std::process::id());
    let net_name = format!("squall-{run}");
    let net = network::create(&docker, &run, &net_name, |_| Ok(())).await;
    checks.push(Check::new(
        "network",
        net.as_ref()
            .map(|n| {
                format!(
                    "created and removed a bridge network with subnet {}",
                    n.subnet()
                )
            })
            .map_err(|e| e.to_string()),
    ));
    let Ok(net) = net else { return checks };

    let probe = format!("squall-{run}-probe");
    let namespace: Result<i64, String> = async {
        have_image
            .as_ref()
            .map_err(|_| "skipped: needs the fixture image for a probe container".to_owned())?;
        let config = InstanceConfig::from_json(r#"{"service":"probe","instance":"probe-1"}"#)
            .map_err(|e| e.to_string())?;
        let spec = Spec {
            name: probe.clone(),
            instance: "probe-1".to_owned(),
            image: FIXTURE_IMAGE.to_owned(),
            address: net.address(0),
            env: vec![format!("SQUALL_FIXTURE_CONFIG={}", config.to_json())],
        };
        container::create(&docker, &run, &net, &spec)
            .await
            .map_err(|e| e.to_string())?;
        container::start(&docker, &probe)
            .await
            .map_err(|e| e.to_string())?;
        let (pid, _) = container::state(&docker, &probe)
            .await
            .map_err(|e| e.to_string())?;
        nft::run_in(
            pid,
            &nft::script(&nft::table_name(&run), &nft::Rules::default()),
        )
        .await
        .map_err(|e| e.to_string())?;
        Ok(pid)
    }
    .await;
    checks.push(Check::new(
        "namespace",
        namespace
            .as_ref()
            .map(|pid| format!("entered a container's network namespace (pid {pid}) with NET_ADMIN and installed an nft table"))
            .map_err(Clone::clone),
    ));
    if let Ok(pid) = namespace {
        let proxy = Proxy::start(pid, Delays::default());
        checks.push(Check::new(
            "proxy",
            proxy
                .as_ref()
                .map(|_| "listening socket created inside the namespace (setns), upstream sockets marked with SO_MARK: latency faults work".to_owned())
                .map_err(|e| format!("{e}: latency faults will not work")),
        ));
        drop(proxy);
        let netem = host_tool(
            "nsenter",
            &[
                "-t",
                &pid.to_string(),
                "-n",
                "tc",
                "qdisc",
                "add",
                "dev",
                "eth0",
                "root",
                "netem",
                "delay",
                "1ms",
            ],
        )
        .await;
        let reason = match netem {
            Ok(_) => {
                let _ = host_tool(
                    "nsenter",
                    &[
                        "-t",
                        &pid.to_string(),
                        "-n",
                        "tc",
                        "qdisc",
                        "del",
                        "dev",
                        "eth0",
                        "root",
                    ],
                )
                .await;
                "available (not needed: squall uses nft and its proxy)".to_owned()
            }
            Err(e) => format!("not available ({e}); not needed: squall uses nft and its proxy"),
        };
        checks.push(Check {
            name: "netem",
            ok: None,
            reason,
        });
    }
    let _ = container::remove(&docker, &probe).await;
    let _ = network::remove(&docker, &net.name).await;
    checks
}
