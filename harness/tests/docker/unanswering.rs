//! An engine that stops answering: squall ends in bounded time, exits 3,
//! says which call got no answer and what is left, and undoes what it can
//! without the engine.
//!
//! A wedged dockerd is not ours to make on a shared machine, so the tests put
//! a Unix-socket proxy between squall and the engine ([`Proxy`]) and make it
//! stop forwarding: everything at once, or, like the libnetwork deadlock,
//! only the network API (`/version` and `docker ps` still answer).

use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};

use crate::{assert_clean, rt, setup, FROZEN};

const SQUALL: &str = env!("CARGO_BIN_EXE_squall");

/// The engine timeout the tests give squall (`SQUALL_ENGINE_TIMEOUT`).
const TIMEOUT: Duration = Duration::from_secs(3);

/// What the proxy forwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Mode {
    All = 0,
    /// Requests to `/networks` (and whatever follows on their connection)
    /// get no answer, as on an engine wedged by the deadlock.
    NotNetworks = 1,
    Nothing = 2,
}

/// A Unix-socket proxy in front of the real engine socket.
struct Proxy {
    socket: PathBuf,
    mode: Arc<AtomicU8>,
    _thread: std::thread::JoinHandle<()>,
}

impl Proxy {
    fn start(dir: &Path, mode: Mode) -> Proxy {
        let socket = dir.join("engine.sock");
        let engine = std::env::var("DOCKER_HOST")
            .ok()
            .and_then(|h| h.strip_prefix("unix://").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("/var/run/docker.sock"));
        let shared = Arc::new(AtomicU8::new(mode as u8));
        let (mode_in, path) = (shared.clone(), socket.clone());
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = UnixListener::bind(&path).unwrap();
                ready_tx.send(()).unwrap();
                loop {
                    let Ok((client, _)) = listener.accept().await else {
                        return;
                    };
                    let (engine, mode) = (engine.clone(), mode_in.clone());
                    tokio::spawn(async move {
                        if let Ok(upstream) = UnixStream::connect(&engine).await {
                            forward(client, upstream, mode).await;
                        }
                    });
                }
            });
        });
        ready_rx.recv().unwrap();
        Proxy {
            socket,
            mode: shared,
            _thread: thread,
        }
    }

    fn set(&self, mode: Mode) {
        self.mode.store(mode as u8, Ordering::SeqCst);
    }

    fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }
}

/// Copies both ways until either side closes; stops forwarding (holding the
/// connection open) once the mode says so.
async fn forward(client: UnixStream, upstream: UnixStream, mode: Arc<AtomicU8>) {
    let (mut cr, mut cw) = client.into_split();
    let (mut ur, mut uw) = upstream.into_split();
    let stalled = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (m1, s1) = (mode.clone(), stalled.clone());
    let up = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match cr.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let mode = m1.load(Ordering::SeqCst);
            let networks = buf[..n].windows(9).any(|w| w == b"/networks");
            if mode == Mode::Nothing as u8 || (mode == Mode::NotNetworks as u8 && networks) {
                s1.store(true, Ordering::SeqCst);
            }
            if s1.load(Ordering::SeqCst) {
                std::future::pending::<()>().await;
            }
            if uw.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    };
    let down = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match ur.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            if stalled.load(Ordering::SeqCst) || mode.load(Ordering::SeqCst) == Mode::Nothing as u8
            {
                std::future::pending::<()>().await;
            }
            if cw.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    };
    tokio::select! { _ = up => {}, _ = down => {} }
}

#[test]
fn a_run_whose_engine_stops_answering_exits_3_says_what_is_left_and_clears_its_rules() {
    let _lock = setup();
    let state = tempfile::tempdir().unwrap();
    let proxy = Proxy::start(state.path(), Mode::All);
    // A pause, a one-way partition and a latency fault from 1 s, in a 4-s run.
    let file = state.path().join("frozen.toml");
    std::fs::write(&file, FROZEN).unwrap();
    let mut child = Command::new(SQUALL)
        .args(["run", "--backend", "docker", "--duration", "4s", "--out"])
        .arg(state.path().join("reports"))
        .arg(&file)
        .env("XDG_STATE_HOME", state.path())
        .env("DOCKER_HOST", proxy.host())
        .env("SQUALL_ENGINE_TIMEOUT", "3s")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let run = crate::read_run_id(&mut stderr);
    assert!(!run.is_empty(), "squall did not print its run id");
    let _heal = crate::Cleanup(run.clone());
    let journal = state
        .path()
        .join("squall/journal")
        .join(format!("{run}.jsonl"));
    // Once the faults are in place, the engine stops answering.
    let end = Instant::now() + Duration::from_secs(60);
    while !std::fs::read_to_string(&journal)
        .unwrap_or_default()
        .contains(r#""op":"pause""#)
    {
        assert!(Instant::now() < end, "the pause never came");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    proxy.set(Mode::Nothing);
    let stalled = Instant::now();
    let mut rest = String::new();
    let _ = std::io::Read::read_to_string(&mut stderr, &mut rest);
    let status = child.wait().unwrap();
    let took = stalled.elapsed();
    eprintln!("{rest}");
    assert_eq!(status.code(), Some(3), "{rest}");
    // The rest of the 4-s load phase, then one timeout: no call waits twice.
    assert!(
        took < Duration::from_secs(4) + TIMEOUT * 2,
        "squall took {took:?} to give up after the engine stopped answering"
    );
    assert!(
        rest.contains("the Docker engine stopped answering"),
        "{rest}"
    );
    assert!(rest.contains("got no answer in 3s"), "{rest}");
    assert!(
        rest.contains(&format!("left on the engine by run {run}")),
        "{rest}"
    );
    assert!(
        rest.contains(&format!("containers: squall-{run}-a-1")),
        "{rest}"
    );
    assert!(rest.contains(&format!("squall heal --run {run}")), "{rest}");
    assert!(rest.contains("squall deleted its nft rules"), "{rest}");

    // What squall could undo without the engine is undone: no instance still
    // running has squall's nft table (the pause stays until the heal).
    let table = format!("squall_{run}");
    rt().block_on(async {
        let docker = crate::docker().await;
        for c in squall::docker::container::list(&docker, Some(&run))
            .await
            .unwrap()
        {
            let (pid, _) = squall::docker::container::state(&docker, &c.name)
                .await
                .unwrap();
            if pid == 0 {
                continue;
            }
            let tables = Command::new("nsenter")
                .args(["-t", &pid.to_string(), "-n", "nft", "list", "tables"])
                .output()
                .unwrap();
            let tables = String::from_utf8_lossy(&tables.stdout);
            assert!(
                !tables.contains(&table),
                "{} still has {table}: {tables}",
                c.name
            );
        }
    });

    // On an engine that answers, `squall heal` removes the rest.
    let heal = Command::new(SQUALL)
        .args(["heal", "--run", &run])
        .env("XDG_STATE_HOME", state.path())
        .output()
        .unwrap();
    assert_eq!(
        heal.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&heal.stderr)
    );
    rt().block_on(assert_clean(Some(&run)));
}

#[test]
fn heal_and_doctor_on_an_engine_whose_networking_is_wedged_exit_3_in_bounded_time() {
    let _lock = setup();
    let state = tempfile::tempdir().unwrap();
    let proxy = Proxy::start(state.path(), Mode::NotNetworks);

    let started = Instant::now();
    let heal = Command::new(SQUALL)
        .args(["heal", "--all"])
        .env("XDG_STATE_HOME", state.path())
        .env("DOCKER_HOST", proxy.host())
        .env("SQUALL_ENGINE_TIMEOUT", "3s")
        .output()
        .unwrap();
    let took = started.elapsed();
    let err = String::from_utf8_lossy(&heal.stderr);
    assert_eq!(heal.status.code(), Some(3), "{err}");
    assert!(took < TIMEOUT * 3, "heal took {took:?}");
    assert!(
        err.contains("stopped answering: `list networks` got no answer in 3s"),
        "{err}"
    );
    assert!(err.contains("restart the engine"), "{err}");

    let started = Instant::now();
    let doctor = Command::new(SQUALL)
        .arg("doctor")
        .env("DOCKER_HOST", proxy.host())
        .output()
        .unwrap();
    let took = started.elapsed();
    let out = String::from_utf8_lossy(&doctor.stdout);
    assert_eq!(doctor.status.code(), Some(3), "{out}");
    assert!(took < Duration::from_secs(15), "doctor took {took:?}");
    assert!(out.contains("network api"), "{out}");
    assert!(out.contains("the engine's networking is wedged"), "{out}");
    drop(proxy);
    rt().block_on(assert_clean(None));
}
