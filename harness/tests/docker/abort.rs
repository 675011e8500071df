//! Every way a Docker run can end early leaves nothing behind: a panic (on
//! the run's thread or in a tokio task), Ctrl-C, SIGTERM, a container
//! removed from outside. SIGKILL, which squall cannot see, leaves the
//! topology for `squall heal`, but its network faults lift by themselves
//! (the nft lease, docs/docker.md). Each test runs the real `squall` binary on a
//! topology with a pause, a partition and a latency fault, ends it while the
//! faults are in force, and checks the exit code, the message and the engine.
//!
//! Panics come from fail points (`squall::docker::abort`), which exist in
//! the binary `cargo test` builds and nowhere else.

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use squall::docker::abort::{FAIL_AFTER_FAULT, FAIL_TASK_AFTER_FAULT};
use squall::docker::session::container_name;

use crate::{assert_clean, docker, leftovers, rt, setup, FROZEN};

const SQUALL: &str = env!("CARGO_BIN_EXE_squall");

/// How long squall may take to create the topology and print its run id.
const STARTED_WITHIN: Duration = Duration::from_secs(60);
/// How long squall may take to end (heal and remove) once told to.
const ENDED_WITHIN: Duration = Duration::from_secs(30);

/// A `squall run --backend docker` child, killed and healed when dropped
/// whatever the test did.
struct Squall {
    child: Child,
    stderr: Arc<Mutex<String>>,
    reader: Option<JoinHandle<()>>,
    run: String,
    journal: PathBuf,
    _state: tempfile::TempDir,
}

impl Squall {
    /// Starts squall on [`FROZEN`] with `env`, and waits for its run id.
    fn start(env: &[(&str, &str)]) -> Squall {
        Squall::start_with(&[], env)
    }

    /// [`Squall::start`] with more arguments to `squall run`.
    fn start_with(args: &[&str], env: &[(&str, &str)]) -> Squall {
        let state = tempfile::tempdir().unwrap();
        let file = state.path().join("frozen.toml");
        std::fs::write(&file, FROZEN).unwrap();
        let mut command = Command::new(SQUALL);
        command
            .args(["run", "--backend", "docker", "--out"])
            .arg(state.path().join("reports"))
            .arg(&file)
            .args(args)
            .env("XDG_STATE_HOME", state.path())
            .env_remove("FAILPOINTS")
            // The panic's message without a page of backtrace.
            .env_remove("RUST_BACKTRACE")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut child = command.spawn().unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let pipe = child.stderr.take().unwrap();
        let sink = stderr.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                eprintln!("squall: {line}");
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        let mut squall = Squall {
            child,
            stderr,
            reader: Some(reader),
            run: String::new(),
            journal: PathBuf::new(),
            _state: state,
        };
        // The run id is on stderr: `      Docker  run r1234abcd (journal ...)`.
        let end = Instant::now() + STARTED_WITHIN;
        while squall.run.is_empty() {
            let text = squall.stderr();
            if let Some(run) = text.lines().find_map(|l| {
                l.trim()
                    .strip_prefix("Docker  run ")
                    .and_then(|r| r.split_whitespace().next())
            }) {
                squall.run = run.to_owned();
            }
            assert!(
                Instant::now() < end,
                "squall did not print its run id:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        squall.journal = squall
            ._state
            .path()
            .join("squall/journal")
            .join(format!("{}.jsonl", squall.run));
        squall
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits (bounded) until the pause of `b-1` is in force on the engine.
    fn wait_for_pause(&self) {
        let paused = container_name(&self.run, "b-1");
        let end = Instant::now() + STARTED_WITHIN;
        loop {
            let left = rt().block_on(leftovers(Some(&self.run)));
            if left.contains(&format!("container {paused} (paused)")) {
                return;
            }
            assert!(
                Instant::now() < end,
                "the pause never came; engine: {left:?}\nstderr:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn signal(&self, signal: i32) {
        // SAFETY: kill(2) on our own child's pid, which we have not reaped.
        let rc = unsafe { libc::kill(self.child.id() as i32, signal) };
        assert_eq!(rc, 0, "kill failed");
    }

    /// Waits (bounded) for squall to exit; returns its status and stderr.
    fn wait(&mut self, within: Duration) -> (ExitStatus, String) {
        let end = Instant::now() + within;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < end,
                "squall did not exit within {within:?}; stderr:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        (status, self.stderr())
    }

    /// Nothing of the run on the engine (containers in any state, so none
    /// paused; the network; squall nft tables on the host; the tables inside
    /// containers went with them) and no journal left.
    fn assert_left_nothing(&self) {
        rt().block_on(assert_clean(Some(&self.run)));
        assert!(
            !self.journal.exists(),
            "the journal {} is still there",
            self.journal.display()
        );
    }
}

impl Drop for Squall {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !self.run.is_empty() {
            let _ = squall::docker::heal::heal_run_blocking(&self.run);
        }
    }
}

/// `(pid, address)` of a container of the run.
fn place(run: &str, instance: &str) -> (i64, String) {
    let name = container_name(run, instance);
    let out = Command::new("docker")
        .args([
            "inspect",
            "-f",
            "{{.State.Pid}} {{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
            &name,
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let (pid, ip) = text.trim().split_once(' ').expect("pid and address");
    (pid.parse().unwrap(), ip.to_owned())
}

/// Whether `GET http://{ip}/squall/health` answers 200 within half a
/// second, from the namespace of `pid` (or the host's, for `None`).
fn answers(from: Option<i64>, ip: &str) -> bool {
    let url = format!("http://{ip}/squall/health");
    let curl = [
        "curl",
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-m",
        "0.5",
        &url,
    ];
    let out = match from {
        Some(pid) => Command::new("nsenter")
            .args(["-t", &pid.to_string(), "-n"])
            .args(curl)
            .output(),
        None => Command::new(curl[0]).args(&curl[1..]).output(),
    }
    .expect("curl and nsenter are installed (.ci/run)");
    out.stdout == b"200"
}

/// SIGKILL mid-fault: squall heals nothing, and the kernel lifts its
/// network faults by itself. Before the lease runs out, `a-1` (latency: its
/// port redirected to the proxy that died with squall) refuses the host and
/// `b-2` (partitioned from `a`) does not answer `a-1`; within the lease plus
/// a second both answer again. What stays, as docs/docker.md says: the
/// pause of `b-1`, the containers and the network, until `squall heal`.
#[test]
fn sigkill_mid_fault_the_network_faults_lift_within_the_lease() {
    let _lock = setup();
    let mut squall = Squall::start(&[]);
    squall.wait_for_pause();
    let (a_pid, a_ip) = place(&squall.run, "a-1");
    let (_, b_ip) = place(&squall.run, "b-2");
    squall.signal(libc::SIGKILL);
    let killed = Instant::now();
    let (status, _) = squall.wait(ENDED_WITHIN);
    assert_eq!(status.signal(), Some(libc::SIGKILL));
    assert!(
        !answers(None, &a_ip),
        "a-1's redirect to the dead proxy should still hold"
    );
    assert!(
        !answers(Some(a_pid), &b_ip),
        "the partition a -> b-2 should still hold"
    );
    let bound = squall::docker::nft::LEASE + Duration::from_secs(1);
    let mut lifted = [None, None];
    while lifted.iter().any(Option::is_none) && killed.elapsed() < bound + Duration::from_secs(5) {
        if lifted[0].is_none() && answers(None, &a_ip) {
            lifted[0] = Some(killed.elapsed());
        }
        if lifted[1].is_none() && answers(Some(a_pid), &b_ip) {
            lifted[1] = Some(killed.elapsed());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!(
        "after SIGKILL: latency redirect lifted at {:?}, partition at {:?}",
        lifted[0], lifted[1]
    );
    for (what, at) in ["the latency redirect", "the partition"].iter().zip(lifted) {
        let at = at.unwrap_or_else(|| panic!("{what} never lifted"));
        assert!(
            at <= bound,
            "{what} lifted after {at:?}, beyond the lease plus a second ({bound:?})"
        );
    }
    // What squall could not undo without its process: the pause.
    let left = rt().block_on(leftovers(Some(&squall.run)));
    let paused = container_name(&squall.run, "b-1");
    assert!(
        left.contains(&format!("container {paused} (paused)")),
        "{left:?}"
    );
    // `squall heal`, as a user would run it, with the run's journal.
    let healed = Command::new(SQUALL)
        .args(["heal", "--run", &squall.run])
        .env("XDG_STATE_HOME", squall._state.path())
        .output()
        .unwrap();
    assert!(
        healed.status.success(),
        "{}",
        String::from_utf8_lossy(&healed.stderr)
    );
    squall.assert_left_nothing();
}

/// A panic from fail point `point` after the faults took effect: squall
/// prints it, heals, and exits 101.
fn panic_heals_everything(point: &str) {
    let _lock = setup();
    let started = Instant::now();
    let action = format!("{point}=panic(injected by the test)");
    let mut squall = Squall::start(&[("FAILPOINTS", &action)]);
    let (status, err) = squall.wait(STARTED_WITHIN + ENDED_WITHIN);
    eprintln!("{point}: exit {status:?} after {:?}", started.elapsed());
    assert_eq!(status.code(), Some(squall::exit::PANICKED), "{err}");
    assert!(err.contains("panicked"), "{err}");
    assert!(err.contains("injected by the test"), "{err}");
    let run = &squall.run;
    assert!(
        err.contains(&format!("Healing  run {run} after a panic")),
        "{err}"
    );
    // The pause was in force when squall panicked, and was undone.
    assert!(
        err.contains(&format!(
            "Healed  run {run}: 3 container(s) removed, 1 unpaused"
        )),
        "{err}"
    );
    assert!(
        err.contains("squall panicked during a Docker run")
            && err.contains("every fault was healed"),
        "{err}"
    );
    squall.assert_left_nothing();
}

#[test]
fn a_panic_on_the_run_thread_heals_everything() {
    panic_heals_everything(FAIL_AFTER_FAULT);
}

#[test]
fn a_panic_in_a_tokio_task_heals_everything() {
    panic_heals_everything(FAIL_TASK_AFTER_FAULT);
}

/// `signal` while the faults are in force: squall heals, removes, exits 4.
fn signal_heals_everything(signal: i32, name: &str) {
    let _lock = setup();
    let mut squall = Squall::start(&[]);
    squall.wait_for_pause();
    let sent = Instant::now();
    squall.signal(signal);
    let (status, err) = squall.wait(ENDED_WITHIN);
    eprintln!(
        "{name}: exit {status:?} {:?} after the signal",
        sent.elapsed()
    );
    assert_eq!(status.code(), Some(squall::exit::SAFETY_STOP), "{err}");
    assert!(
        err.contains(&format!(
            "aborted: {name} during the run; every fault was healed"
        )),
        "{err}"
    );
    squall.assert_left_nothing();
}

#[test]
fn ctrl_c_mid_fault_heals_everything() {
    signal_heals_everything(libc::SIGINT, "SIGINT");
}

#[test]
fn sigterm_mid_fault_heals_everything() {
    signal_heals_everything(libc::SIGTERM, "SIGTERM");
}

/// `docker rm -f` of one of the run's containers while the faults are in
/// force: squall stops at once, names the instance, heals the rest, exits 3.
#[test]
fn a_container_removed_mid_run_exits_3_and_heals_the_rest() {
    let _lock = setup();
    let mut squall = Squall::start(&[]);
    squall.wait_for_pause();
    let gone = container_name(&squall.run, "b-2");
    let removed = Instant::now();
    rt().block_on(async {
        squall::docker::container::remove(&docker().await, &gone)
            .await
            .unwrap()
    });
    let (status, err) = squall.wait(ENDED_WITHIN);
    let took = removed.elapsed();
    eprintln!("vanished: exit {status:?} {took:?} after the removal");
    assert_eq!(status.code(), Some(squall::exit::ENVIRONMENT), "{err}");
    assert!(
        err.contains(&format!(
            "instance `b-2` vanished mid-run: its container `{gone}` was removed by something other than squall"
        )),
        "{err}"
    );
    assert!(
        err.contains("the run stopped, healed its faults and removed the rest"),
        "{err}"
    );
    // Stopped by the watch, not by the end of the 30 s load phase.
    assert!(took < Duration::from_secs(10), "took {took:?}");
    squall.assert_left_nothing();
}

/// `docker kill` of one of the run's containers (stopped, not removed): the
/// run goes on to the end of its load phase, then says which instance
/// stopped without squall stopping it, exits 3 without verdicts, and heals.
#[test]
fn a_container_stopped_from_outside_exits_3_and_heals_the_rest() {
    let _lock = setup();
    let mut squall = Squall::start_with(&["--duration", "6s"], &[]);
    squall.wait_for_pause();
    let stopped = container_name(&squall.run, "b-2");
    rt().block_on(async {
        squall::docker::container::kill(&docker().await, &stopped)
            .await
            .unwrap()
    });
    let (status, err) = squall.wait(ENDED_WITHIN);
    assert_eq!(status.code(), Some(squall::exit::ENVIRONMENT), "{err}");
    assert!(
        err.contains(
            "instance `b-2` stopped mid-run without squall stopping it (exit code 137): \
             `docker stop` or `docker kill` from outside"
        ),
        "{err}"
    );
    assert!(err.contains("its verdicts are not reported"), "{err}");
    assert!(!err.contains("HELD") && !err.contains("FAILED"), "{err}");
    squall.assert_left_nothing();
}
