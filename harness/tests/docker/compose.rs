//! `[docker] compose`: a compose file's services on the real engine. The
//! third-party images are BusyBox httpd (`examples/support/busybox.rs`) and
//! HAProxy (`examples/support/haproxy.rs`), built offline once per test
//! binary.

use std::process::Command;
use std::sync::OnceLock;

use crate::{leftovers, rt, setup};

#[path = "../../examples/support/busybox.rs"]
#[allow(dead_code)]
mod busybox;
#[path = "../../examples/support/haproxy.rs"]
#[allow(dead_code)]
mod haproxy;

const SQUALL: &str = env!("CARGO_BIN_EXE_squall");

/// What is on the engine before a test: the test leaves nothing more. (Not
/// [`crate::assert_clean`]: another session's run on a shared engine would
/// fail these tests, whose own runs are the only thing they can answer for.)
fn before() -> Vec<String> {
    rt().block_on(leftovers(None))
}

fn assert_nothing_added(before: &[String]) {
    let added: Vec<String> = rt()
        .block_on(leftovers(None))
        .into_iter()
        .filter(|l| !before.contains(l))
        .collect();
    assert!(
        added.is_empty(),
        "the test left this on the engine: {added:#?}"
    );
}

static BUSYBOX: OnceLock<Result<(), String>> = OnceLock::new();

/// Builds `squall-busybox:latest` once (Debian's busybox-static, no registry).
pub fn busybox_image() {
    let built = BUSYBOX.get_or_init(|| {
        let binary = busybox::binary(&busybox::cache_dir())?;
        rt().block_on(async { busybox::build(&crate::docker().await, binary).await })
    });
    if let Err(e) = built {
        panic!("the compose tests need the busybox image: {e}");
    }
}

static HAPROXY: OnceLock<Result<(), String>> = OnceLock::new();

/// Builds `squall-haproxy:latest` once (this machine's Debian HAProxy).
pub fn haproxy_image() {
    let built = HAPROXY
        .get_or_init(|| rt().block_on(async { haproxy::build(&crate::docker().await).await }));
    if let Err(e) = built {
        panic!("the HAProxy scenarios need the haproxy image: {e}");
    }
}

/// A scenario next to its compose file in a temporary directory; runs
/// `squall run --backend docker` on it and returns (exit code, stderr).
fn run(scenario: &str, compose: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("docker-compose.yml"), compose).unwrap();
    let file = dir.path().join("s.toml");
    std::fs::write(&file, scenario).unwrap();
    let out = Command::new(SQUALL)
        .args(["run", "--backend", "docker", "--out"])
        .arg(dir.path().join("reports"))
        .arg(&file)
        .env("XDG_STATE_HOME", dir.path())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const SCENARIO: &str = "duration = \"3s\"\n\
    [docker]\ncompose = \"docker-compose.yml\"\n\
    [workload]\ntarget = \"web\"\npath = \"/index.html\"\nrate = 20\ndeadline = \"500ms\"\n\
    [[invariants]]\nkind = \"answered\"\n";

#[test]
fn a_compose_file_with_an_unknown_key_fails_with_exit_2_naming_it() {
    let _lock = setup();
    let was = before();
    let compose = "services:\n  web:\n    image: squall-busybox:latest\n    ports: [\"8080\"]\n    volumes:\n      - ./www:/www\n";
    let (code, err) = run(SCENARIO, compose);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("docker-compose.yml:5:5: unsupported compose key `volumes` in service `web`"),
        "{err}"
    );
    assert_nothing_added(&was);
}

#[test]
fn a_compose_service_that_never_gets_healthy_is_named() {
    let _lock = setup();
    let was = before();
    busybox_image();
    let compose = "services:\n  web:\n    image: squall-busybox:latest\n    ports: [\"8080\"]\n    healthcheck:\n      test: [\"CMD\", \"/bin/busybox\", \"false\"]\n      interval: 200ms\n      timeout: 1s\n      retries: 2\n";
    let started = std::time::Instant::now();
    let (code, err) = run(SCENARIO, compose);
    assert_eq!(code, Some(3), "{err}");
    assert!(
        err.contains("service `web` never got healthy: instance `web-1` was `"),
        "{err}"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "bounded by the healthcheck's retries: {:?}",
        started.elapsed()
    );
    assert_nothing_added(&was);
}

#[test]
fn a_missing_compose_image_exits_3_naming_it() {
    let _lock = setup();
    let was = before();
    let compose = "services:\n  web:\n    image: squall-missing:none\n    ports: [\"8080\"]\n";
    let (code, err) = run(SCENARIO, compose);
    assert_eq!(code, Some(3), "{err}");
    assert!(
        err.contains("image `squall-missing:none` is not on the Docker engine"),
        "{err}"
    );
    assert_nothing_added(&was);
}

/// An `error` fault on an image squall knows nothing about: the proxy in its
/// namespace answers 30% of the requests 503 itself. 800 requests in the
/// fault (200/s for 4 s): the binomial's standard deviation is 1.6 points, so
/// the stated tolerance, +-6 points, is nearly four of them. Before and after
/// the fault every request is answered 200 by httpd.
#[test]
fn an_error_fault_on_a_third_party_image_comes_at_the_asked_rate() {
    let _lock = setup();
    let was = before();
    busybox_image();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("docker-compose.yml"),
        "services:\n  web:\n    image: squall-busybox:latest\n    ports: [\"8080\"]\n",
    )
    .unwrap();
    let file = dir.path().join("error.toml");
    std::fs::write(
        &file,
        "duration = \"6s\"\n[docker]\ncompose = \"docker-compose.yml\"\n\
         [workload]\ntarget = \"web\"\npath = \"/index.html\"\nrate = 200\ndeadline = \"1s\"\n\
         [[faults]]\nkind = \"error\"\ntarget = \"web\"\nstatus = 503\nrate = 0.3\nat = \"1s\"\nfor = \"4s\"\n",
    )
    .unwrap();
    let scenario = squall::scenario::load(&file).unwrap();
    squall::engine::BackendKind::Docker
        .check(&scenario)
        .unwrap();
    let record = squall::docker::run(&scenario, &Default::default()).unwrap();
    let fault = &record.faults[0];
    let (start, end) = (fault.start, fault.end.unwrap());
    let (mut during, mut errors, mut outside_bad) = (0, 0, 0);
    for r in &record.requests {
        // Requests sent around the edges may meet either state.
        let margin = std::time::Duration::from_millis(50);
        if r.scheduled >= start + margin && r.scheduled + margin < end {
            during += 1;
            match r.outcome {
                squall::record::Outcome::Error(503) => errors += 1,
                squall::record::Outcome::Ok => {}
                ref other => panic!("during the fault: {other:?}"),
            }
        } else if (r.scheduled + margin < start || r.scheduled >= end + margin)
            && r.outcome != squall::record::Outcome::Ok
        {
            outside_bad += 1;
        }
    }
    let rate = f64::from(errors) / f64::from(during);
    eprintln!("  error 503 asked 0.3: {errors} of {during} = {rate:.3}; {outside_bad} not ok outside the fault");
    assert!(during > 700, "{during} requests in the fault");
    assert!((rate - 0.3).abs() < 0.06, "measured {rate:.3}");
    assert_eq!(outside_bad, 0);
    assert_nothing_added(&was);
}

/// Three `web` replicas whose health endpoint appears 2 s after they start,
/// and a `probe` that, as it starts, asks each replica by instance name for
/// it and resolves the service name `web`; it exits (and never answers)
/// unless all three answer and `web` resolves to three addresses.
fn dependants(depends_on: &str) -> String {
    format!(
        r#"services:
  web:
    image: squall-busybox:latest
    command: ["/bin/sh", "-c", "/bin/busybox rm /www/health; (/bin/busybox sleep 2; echo ok > /www/health) & exec /bin/busybox httpd -f -p 8080 -h /www"]
    ports: ["8080"]
    deploy:
      replicas: 3
    healthcheck:
      test: ["CMD", "/bin/busybox", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/health"]
      interval: 250ms
      timeout: 1s
      retries: 40
  probe:
    image: squall-busybox:latest
    command: ["/bin/sh", "-c", "for i in 1 2 3; do /bin/busybox wget -q -O /dev/null http://web-$i:8080/health || exit 1; done; [ $(/bin/busybox nslookup web | /bin/busybox grep -c '^Address: 10[.]213[.]') -eq 3 ] || exit 1; exec /bin/busybox httpd -f -p 8080 -h /www"]
    ports: ["8080"]
{depends_on}"#
    )
}

#[test]
fn depends_on_starts_a_service_after_its_healthy_dependency_and_the_service_name_resolves_to_every_replica(
) {
    let _lock = setup();
    let was = before();
    busybox_image();
    let scenario = SCENARIO.replace("target = \"web\"", "target = \"probe\"");
    let (code, err) = run(
        &scenario,
        &dependants("    depends_on:\n      web:\n        condition: service_healthy\n"),
    );
    assert_eq!(code, Some(0), "{err}");
    // Without `depends_on`, the probe starts right after the replicas, asks
    // before their health endpoint exists, and exits.
    let (code, err) = run(&scenario, &dependants(""));
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("probe-1"), "{err}");
    assert_nothing_added(&was);
}
