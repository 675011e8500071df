//! Every way a Docker run can end early leaves nothing behind: a panic (on
//! the run's thread or in a tokio task), Ctrl-C, SIGTERM, a container
//! removed from outside. Each test runs the real `squall` binary on a
//! topology with a pause, a partition and a latency fault, ends it while the
//! faults are in force, and checks the exit code, the message and the engine.
//!
//! Panics come from fail points (`squall::docker::abort`), which exist in
//! the binary `cargo test` builds and nowhere else.

use std::io::{BufRead, BufReader};
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
