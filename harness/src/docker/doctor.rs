//! `squall doctor`: which fault mechanisms work against this engine, each
//! with a one-line reason.
//!
//! It reaches the engine, looks for the fixture image, creates (and removes) a
//! labelled network and a probe container, enters the probe's network
//! namespace to run nft and start the latency proxy, and probes netem with a
//! throwaway qdisc. Everything it creates carries squall's labels under the
//! run id `doctor<pid>`, and is removed before it returns.

use std::process::Stdio;
use std::time::Duration;

use squall_fixture::InstanceConfig;

use super::container::{self, Spec};
use super::image::FIXTURE_IMAGE;
use super::proxy::{Delays, Proxy};
use super::{connect, engine_host, image, network, nft, DockerError};

/// What a check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The mechanism works.
    Ok,
    /// It does not: some faults (or every run) will fail.
    Failed,
    /// It works, with a risk worth knowing (an engine version with a known bug).
    Warning,
    /// For information only (netem is optional).
    Info,
}

/// One mechanism's verdict.
#[derive(Debug, Clone)]
pub struct Check {
    pub name: &'static str,
    pub status: Status,
    pub reason: String,
}

impl Check {
    fn new(name: &'static str, result: Result<String, String>) -> Check {
        match result {
            Ok(reason) => Check {
                name,
                status: Status::Ok,
                reason,
            },
            Err(reason) => Check {
                name,
                status: Status::Failed,
                reason,
            },
        }
    }
}

/// Whether every required mechanism works.
pub fn healthy(checks: &[Check]) -> bool {
    checks.iter().all(|c| c.status != Status::Failed)
}

/// How long the network API may take to list networks before doctor calls
/// the engine's networking wedged.
const NETWORK_API_WAIT: Duration = Duration::from_secs(5);

/// The first engine version of the 20.10 line with libnetwork's fix for the
/// deadlock between `getSvcRecords` and `processEndpointDelete`
/// (moby/libnetwork#2679, vendored by moby/moby#46693); 22.06 and later
/// carry it from moby/moby#42545.
const DEADLOCK_FIXED_IN: (u32, u32, u32) = (20, 10, 27);

/// `Some(warning)` when `version` (the engine's, e.g. `20.10.24+dfsg1`) is
/// older than [`DEADLOCK_FIXED_IN`]. Distributions may patch the bug without
/// changing the version; the warning says so.
pub fn deadlock_warning(version: &str) -> Option<String> {
    let mut parts = version
        .split(|c: char| !c.is_ascii_digit())
        .filter(|p| !p.is_empty())
        .map(|p| p.parse::<u32>().ok());
    let (Some(Some(major)), Some(Some(minor))) = (parts.next(), parts.next()) else {
        return None;
    };
    let patch = parts.next().flatten().unwrap_or(0);
    if (major, minor, patch) >= DEADLOCK_FIXED_IN {
        return None;
    }
    Some(format!(
        "Docker {version} has a known libnetwork deadlock (fixed upstream in moby/moby#42545, in 20.10.27 through moby/libnetwork#2679): many containers leaving one network at once can wedge the engine's networking until dockerd restarts. squall makes endpoint changes one at a time to avoid it (docs/docker.md); other tools on this engine may still trigger it (hint: upgrade to 20.10.27 or later, or 23.0+, unless your distribution patched it)"
    ))
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
    let engine_version = version.version.unwrap_or_default();
    checks.push(Check::new(
        "engine",
        Ok(format!(
            "Docker {engine_version}, API {} at {}",
            version.api_version.unwrap_or_default(),
            engine_host()
        )),
    ));
    // A wedged engine answers `/version` and `docker ps` but never a network
    // call: ask one with a short deadline before anything would hang on it.
    let listing = super::call::within(
        NETWORK_API_WAIT,
        || "list networks".to_owned(),
        docker.list_networks(None::<bollard::query_parameters::ListNetworksOptions>),
    )
    .await;
    let network_api = match listing {
        Ok(Ok(nets)) => Ok(format!("listed {} networks within {}s", nets.len(), NETWORK_API_WAIT.as_secs())),
        Ok(Err(e)) => Err(format!("listing networks failed: {}", super::short(&e))),
        Err(_) => Err(format!(
            "listing networks got no answer in {}s: the engine's networking is wedged (hint: restart the engine, e.g. `systemctl restart docker`, then `squall heal`)",
            NETWORK_API_WAIT.as_secs()
        )),
    };
    let answering = network_api.is_ok();
    checks.push(Check::new("network api", network_api));
    if let Some(warning) = deadlock_warning(&engine_version) {
        checks.push(Check {
            name: "deadlock",
            status: Status::Warning,
            reason: warning,
        });
    }
    if !answering {
        return checks;
    }
    let have_image = image::present(&docker, FIXTURE_IMAGE).await;
    checks.push(image_check(&have_image));
    let have_image = match have_image {
        Ok(true) => Ok(()),
        Ok(false) => Err(DockerError::MissingImage(FIXTURE_IMAGE.to_owned())),
        Err(e) => Err(e),
    };
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
            env: vec![format!(
                "{}={}",
                squall_fixture::config::CONFIG_ENV,
                config.to_json()
            )],
            cmd: None,
            entrypoint: None,
            healthcheck: None,
            aliases: Vec::new(),
        };
        container::create(&docker, &run, &net, &spec)
            .await
            .map_err(|e| e.to_string())?;
        super::endpoint::start(&docker, &probe)
            .await
            .map_err(|e| e.to_string())?;
        let (pid, _) = container::state(&docker, &probe)
            .await
            .map_err(|e| e.to_string())?;
        nft::run_in(
            pid,
            &nft::script(
                &nft::table_name(&run),
                &nft::Rules::default(),
                std::net::Ipv4Addr::UNSPECIFIED,
            ),
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
        let proxy = Proxy::start(pid, Delays::default(), None);
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
            status: Status::Info,
            reason,
        });
    }
    let _ = super::endpoint::remove(&docker, &probe).await;
    let _ = network::remove(&docker, &net.name).await;
    checks
}

/// The fixture image: on the engine, or what a run will do without it (build
/// it from this checkout: how long that takes, whether cargo has it cached).
fn image_check(present: &Result<bool, DockerError>) -> Check {
    let (status, reason) = match present {
        Ok(true) => (Status::Ok, format!("{FIXTURE_IMAGE} is on the engine")),
        Err(e) => (Status::Failed, e.to_string()),
        Ok(false) => match image::source_workspace() {
            Some(workspace) => {
                let cached = image::static_fixture_path(&workspace).is_file();
                (
                    Status::Warning,
                    format!(
                        "{FIXTURE_IMAGE} is not on the engine; the first `squall run --backend docker` builds it from {} ({})",
                        workspace.display(),
                        if cached {
                            "the static binary is cached: a few seconds"
                        } else {
                            "nothing cached: a release build of the fixture, a few minutes on 2 cores"
                        }
                    ),
                )
            }
            None => (
                Status::Failed,
                DockerError::MissingImage(FIXTURE_IMAGE.to_owned()).to_string(),
            ),
        },
    };
    Check {
        name: "image",
        status,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engines_before_20_10_27_are_warned_about_the_deadlock() {
        for old in ["20.10.24+dfsg1", "20.10.26", "19.03.15", "20.10"] {
            assert!(deadlock_warning(old).is_some(), "{old}");
        }
        for fixed in ["20.10.27", "23.0.1", "28.2.2", "24.0.7-1ubuntu1"] {
            assert_eq!(deadlock_warning(fixed), None, "{fixed}");
        }
        assert_eq!(deadlock_warning("unknown"), None);
    }
}
