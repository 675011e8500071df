//! `squall-busybox:latest`: a third-party HTTP server for compose scenarios,
//! built offline. BusyBox's `httpd` (Debian's `busybox-static`, one static
//! binary) serves `/www` on port 8080; `/bin/sh` and `/bin/wget` are links to
//! it, for healthchecks. No part of it knows squall: no `/squall/` endpoints,
//! no spans. Shared by `examples/busybox_image.rs` and the Docker tests.

use std::path::{Path, PathBuf};

use squall::docker::image::{build_rootfs, RootfsFile};

/// The image's tag, as `scenarios/compose/docker-compose.yml` names it.
pub const TAG: &str = "squall-busybox:latest";

/// The static busybox binary: the host's `/bin/busybox` if it is the static
/// build, else Debian's `busybox-static` package, fetched with `apt-get
/// download` into `cache` and unpacked with `dpkg-deb -x`.
pub fn binary(cache: &Path) -> Result<Vec<u8>, String> {
    let unpacked = cache.join("root/bin/busybox");
    if !unpacked.is_file() {
        std::fs::create_dir_all(cache).map_err(|e| e.to_string())?;
        let run = |cmd: &mut std::process::Command| -> Result<(), String> {
            let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
            if out.status.success() {
                Ok(())
            } else {
                Err(format!("{cmd:?}: {}", String::from_utf8_lossy(&out.stderr)))
            }
        };
        run(std::process::Command::new("apt-get")
            .args(["download", "busybox-static"])
            .current_dir(cache))?;
        let deb: PathBuf = std::fs::read_dir(cache)
            .map_err(|e| e.to_string())?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "deb"))
            .ok_or("apt-get download left no .deb")?;
        run(std::process::Command::new("dpkg-deb")
            .arg("-x")
            .arg(&deb)
            .arg(cache.join("root")))?;
    }
    std::fs::read(&unpacked).map_err(|e| format!("{}: {e}", unpacked.display()))
}

/// Builds [`TAG`] on the engine from `busybox`.
pub async fn build(docker: &bollard::Docker, busybox: Vec<u8>) -> Result<(), String> {
    let link = |path: &str| RootfsFile {
        path: path.to_owned(),
        data: Vec::new(),
        mode: 0o777,
        link: Some("/bin/busybox".to_owned()),
    };
    let file = |path: &str, data: &[u8], mode| RootfsFile {
        path: path.to_owned(),
        data: data.to_vec(),
        mode,
        link: None,
    };
    let files = vec![
        file("bin/busybox", &busybox, 0o755),
        link("bin/sh"),
        link("bin/wget"),
        file("www/index.html", b"squall-busybox\n", 0o644),
        file("www/health", b"ok\n", 0o644),
        file("tmp/.keep", b"", 0o644),
    ];
    build_rootfs(
        docker,
        TAG,
        &files,
        &["/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/www"],
    )
    .await
    .map_err(|e| e.to_string())
}

/// Where the package is unpacked: next to the static fixture's build.
pub fn cache_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
        .join("busybox-static")
}
