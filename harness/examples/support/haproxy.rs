//! `squall-haproxy:latest`: HAProxy, a load balancer no one here wrote, as the
//! gateway of the compose scenarios `scenarios/compose/haproxy-*.toml`. Built
//! offline, `FROM scratch`: Debian's `/usr/sbin/haproxy` (the `haproxy`
//! package, which `.ci/run` installs), every shared library `ldd` names for it
//! at the same path, and `scenarios/compose/haproxy.cfg` as
//! `/etc/haproxy/haproxy.cfg`. No part of it knows squall. Shared by
//! `examples/haproxy_image.rs` and the Docker tests.

use std::path::{Path, PathBuf};

use squall::docker::image::{build_rootfs, RootfsFile};

/// The image's tag, as `scenarios/compose/haproxy-*.yml` name it.
pub const TAG: &str = "squall-haproxy:latest";

/// The Debian package's binary on this machine.
const BINARY: &str = "/usr/sbin/haproxy";

/// The configuration the image runs, next to the scenarios that use it.
pub fn config_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/compose/haproxy.cfg")
}

/// The image's files: the binary, its libraries and the configuration.
pub fn files() -> Result<Vec<RootfsFile>, String> {
    if !Path::new(BINARY).is_file() {
        return Err(format!(
            "{BINARY} is missing (hint: `apt-get install haproxy`; .ci/run installs it)"
        ));
    }
    let out = std::process::Command::new("ldd")
        .arg(BINARY)
        .output()
        .map_err(|e| format!("ldd {BINARY}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "ldd {BINARY}: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let file = |path: &str, mode| -> Result<RootfsFile, String> {
        Ok(RootfsFile {
            path: path.to_owned(),
            data: std::fs::read(path).map_err(|e| format!("{path}: {e}"))?,
            mode,
            link: None,
        })
    };
    let mut files = vec![file(BINARY, 0o755)?];
    for path in libraries(&String::from_utf8_lossy(&out.stdout)) {
        files.push(file(&path, 0o755)?);
    }
    let config = config_path();
    files.push(RootfsFile {
        path: "etc/haproxy/haproxy.cfg".to_owned(),
        data: std::fs::read(&config).map_err(|e| format!("{}: {e}", config.display()))?,
        mode: 0o644,
        link: None,
    });
    Ok(files)
}

/// The absolute paths in `ldd`'s output (`libssl.so.3 => /lib/... (0x..)`
/// and the loader's own `/lib64/ld-linux-x86-64.so.2 (0x..)`); the vDSO
/// has none.
fn libraries(ldd: &str) -> Vec<String> {
    ldd.lines()
        .filter_map(|line| {
            let path = line.split("=>").last()?.split_whitespace().next()?;
            path.starts_with('/').then(|| path.to_owned())
        })
        .collect()
}

/// Builds [`TAG`] on the engine.
pub async fn build(docker: &bollard::Docker) -> Result<(), String> {
    let files = files()?;
    build_rootfs(
        docker,
        TAG,
        &files,
        &["/usr/sbin/haproxy", "-db", "-f", "/etc/haproxy/haproxy.cfg"],
    )
    .await
    .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn libraries_are_the_absolute_paths_ldd_prints() {
        let ldd = "\tlinux-vdso.so.1 (0x00007ffd)\n\
                   \tlibssl.so.3 => /lib/x86_64-linux-gnu/libssl.so.3 (0x00007f76)\n\
                   \t/lib64/ld-linux-x86-64.so.2 (0x00007f76)\n";
        assert_eq!(
            super::libraries(ldd),
            [
                "/lib/x86_64-linux-gnu/libssl.so.3",
                "/lib64/ld-linux-x86-64.so.2"
            ]
        );
    }
}
