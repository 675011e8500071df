//! Nothing left behind: a squall killed with SIGKILL in the middle of its
//! faults is undone by `squall heal`; environment errors exit 3 and clean up.

use std::io::BufReader;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{assert_clean, leftovers, rt, setup, FROZEN};

const SQUALL: &str = env!("CARGO_BIN_EXE_squall");

#[test]
fn squall_heal_undoes_a_squall_killed_mid_fault() {
    let _lock = setup();
    let state = tempfile::tempdir().unwrap();
    let file = state.path().join("frozen.toml");
    std::fs::write(&file, FROZEN).unwrap();
    let mut child = Command::new(SQUALL)
        .args(["run", "--backend", "docker", "--out"])
        .arg(state.path().join("reports"))
        .arg(&file)
        .env("XDG_STATE_HOME", state.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let run = crate::read_run_id(&mut stderr);
    assert!(!run.is_empty(), "squall did not print its run id");
    let journal = state
        .path()
        .join("squall/journal")
        .join(format!("{run}.jsonl"));
    // Wait (bounded) until the pause is in the journal and on the engine.
    let end = Instant::now() + Duration::from_secs(60);
    loop {
        let text = std::fs::read_to_string(&journal).unwrap_or_default();
        if text.contains(r#""op":"pause""#) {
            break;
        }
        assert!(
            Instant::now() < end,
            "the pause never came; journal:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
    let _ = child.wait();
    let left = rt().block_on(leftovers(Some(&run)));
    assert!(
        left.iter().any(|l| l.contains("paused")),
        "expected a paused container left behind: {left:?}"
    );
    assert!(journal.exists());

    let heal = Command::new(SQUALL)
        .args(["heal", "--run", &run])
        .env("XDG_STATE_HOME", state.path())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&heal.stdout);
    eprintln!("{out}{}", String::from_utf8_lossy(&heal.stderr));
    assert_eq!(heal.status.code(), Some(0));
    assert!(out.contains("Unpaused"), "{out}");
    assert!(!journal.exists(), "the journal is still there");
    rt().block_on(assert_clean(Some(&run)));
}

#[test]
fn an_unreachable_engine_exits_3() {
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/../scenarios/card-auth.toml");
    let out = Command::new(SQUALL)
        .args(["run", "--backend", "docker", scenario])
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("cannot reach the Docker engine at unix:///nonexistent/docker.sock"),
        "{err}"
    );
}

#[test]
fn a_missing_image_exits_3() {
    let _lock = setup();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("missing.toml");
    std::fs::write(
        &file,
        "duration = \"2s\"\nworkload = { target = \"a\", path = \"/x\", rate = 1, deadline = \"100ms\" }\n\
         [services.a]\n[services.a.endpoints.\"/x\"]\nwork = \"0ms\"\n[services.a.docker]\nimage = \"squall-missing:none\"\n",
    )
    .unwrap();
    let out = Command::new(SQUALL)
        .args(["run", "--backend", "docker"])
        .arg(&file)
        .env("XDG_STATE_HOME", dir.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("image `squall-missing:none` is not on the Docker engine"),
        "{err}"
    );
    rt().block_on(assert_clean(None));
}

/// A fresh machine has no fixture image: the first Docker run builds it from
/// the checkout (the static binary is cached by `setup`, so this takes seconds).
#[test]
fn a_missing_fixture_image_is_built_by_the_run() {
    let _lock = setup();
    rt().block_on(async {
        let docker = crate::docker().await;
        let options = bollard::query_parameters::RemoveImageOptionsBuilder::default()
            .force(true)
            .build();
        docker
            .remove_image(squall::docker::image::FIXTURE_IMAGE, Some(options), None)
            .await
            .expect("removing the fixture image");
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fixture.toml");
    std::fs::write(
        &file,
        "duration = \"1s\"\nworkload = { target = \"a\", path = \"/x\", rate = 5, deadline = \"500ms\" }\n\
         [services.a]\n[services.a.endpoints.\"/x\"]\nwork = \"0ms\"\n\
         [[invariants]]\nkind = \"answered\"\nmax_ratio = 0.2\n",
    )
    .unwrap();
    let out = Command::new(SQUALL)
        .args(["run", "--backend", "docker", "--out"])
        .arg(dir.path().join("reports"))
        .arg(&file)
        .env("XDG_STATE_HOME", dir.path())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("Building  squall-fixture:latest: not on the engine, building it from"),
        "{err}"
    );
    let present = rt().block_on(async {
        squall::docker::image::present(&crate::docker().await, squall::docker::image::FIXTURE_IMAGE)
            .await
            .unwrap()
    });
    assert!(present, "the run left the fixture image on the engine");
    rt().block_on(assert_clean(None));
}

#[test]
fn doctor_says_what_works() {
    let _lock = setup();
    let out = Command::new(SQUALL).arg("doctor").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    eprintln!("{text}");
    assert_eq!(out.status.code(), Some(0), "{text}");
    for check in [
        "engine",
        "image",
        "nft",
        "network",
        "namespace",
        "proxy",
        "netem",
    ] {
        assert!(text.contains(check), "no `{check}` line:\n{text}");
    }
    rt().block_on(assert_clean(None));
}
