//! The fixture image, built offline: the `squall-fixture` binary, linked
//! statically, alone in a `FROM scratch` image.
//!
//! No registry is needed at any step: [`build_static_fixture`] runs cargo with
//! `-C target-feature=+crt-static` for `x86_64-unknown-linux-gnu` (no musl
//! target needed) into a target dir of its own, so those flags never
//! invalidate the workspace build; [`build`] sends the engine an in-memory
//! build context (a Dockerfile and the binary) through the classic builder
//! and tags the result [`FIXTURE_IMAGE`], labelled with a hash of the binary
//! so an unchanged binary is not built again. A static glibc binary cannot
//! use NSS in an empty image, so instances are given their upstreams as
//! `IP:port`, which need no lookup. A Docker run whose fixture image is
//! missing does both steps itself when squall's source checkout is where
//! the binary was built ([`ensure`]); `cargo run --release -p squall
//! --example fixture_image` does them on their own.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use bollard::query_parameters::BuildImageOptionsBuilder;
use bollard::Docker;
use futures_util::{FutureExt, StreamExt};

use super::call::{call, within};

use super::{engine, is_not_found, DockerError, LABEL_MANAGED};

/// The tag of the fixture image.
pub const FIXTURE_IMAGE: &str = "squall-fixture:latest";

/// The label holding the hash of the binary inside.
pub const LABEL_CONTENT: &str = "squall.content";

/// How long the engine may take to build the image from its context (a
/// single `COPY` of one binary: seconds on a healthy engine).
const BUILD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

/// The target the static binary is built for.
const TARGET: &str = "x86_64-unknown-linux-gnu";

/// Builds the static `squall-fixture` binary with cargo and returns its path.
/// `workspace` is the directory of the workspace's Cargo.toml.
pub fn build_static_fixture(workspace: &Path) -> Result<PathBuf, DockerError> {
    build_static(workspace, "squall-fixture", "squall-fixture")
}

/// Builds binary `bin` of package `package` of `workspace`, linked
/// statically for a `FROM scratch` image, and returns its path: how the
/// fixture is built, and how a workspace's own services are (the payments
/// example's image). Every such build shares one target dir, so the second
/// reuses the first's dependencies.
pub fn build_static(workspace: &Path, package: &str, bin: &str) -> Result<PathBuf, DockerError> {
    let target_dir = static_target_dir(workspace);
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = std::process::Command::new(cargo)
        .current_dir(workspace)
        .args([
            "build",
            "--release",
            "--locked",
            "-p",
            package,
            "--bin",
            bin,
            "--target",
            TARGET,
        ])
        .arg("--target-dir")
        .arg(&target_dir)
        .env("RUSTFLAGS", "-C target-feature=+crt-static")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .status()
        .map_err(|e| DockerError::Engine(format!("cannot run cargo: {e}")))?;
    if !status.success() {
        return Err(DockerError::Engine(format!(
            "building the static `{bin}` failed ({status})"
        )));
    }
    Ok(static_binary_path(workspace, bin))
}

fn static_target_dir(workspace: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace.join("target"))
        .join("fixture-static")
}

/// FNV-1a over the binary: enough to tell builds apart.
fn content_hash(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// The build context: a Dockerfile and the binary, as a tar in memory.
fn context(binary: &[u8]) -> std::io::Result<Vec<u8>> {
    let dockerfile =
        b"FROM scratch\nCOPY squall-fixture /squall-fixture\nENTRYPOINT [\"/squall-fixture\"]\n";
    let mut tar = tar::Builder::new(Vec::new());
    for (name, data, mode) in [
        ("Dockerfile", &dockerfile[..], 0o644),
        ("squall-fixture", binary, 0o755),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(mode);
        header.set_cksum();
        tar.append_data(&mut header, name, data)?;
    }
    tar.into_inner()
}

/// Builds [`FIXTURE_IMAGE`] from the binary at `binary`, unless the image
/// already holds that binary. Returns whether it built.
pub async fn build(docker: &Docker, binary: &Path) -> Result<bool, DockerError> {
    let bytes = std::fs::read(binary)
        .map_err(|e| DockerError::Engine(format!("cannot read {}: {e}", binary.display())))?;
    let hash = content_hash(&bytes);
    if let Ok(image) = call(
        || format!("inspect image `{FIXTURE_IMAGE}`"),
        docker.inspect_image(FIXTURE_IMAGE),
    )
    .await?
    {
        let current = image
            .config
            .and_then(|c| c.labels)
            .and_then(|l| l.get(LABEL_CONTENT).cloned());
        if current.as_deref() == Some(hash.as_str()) {
            return Ok(false);
        }
    }
    let tar = context(&bytes)
        .map_err(|e| DockerError::Engine(format!("cannot pack the build context: {e}")))?;
    let labels = HashMap::from([
        (LABEL_CONTENT.to_owned(), hash),
        (format!("{LABEL_MANAGED}.image"), "fixture".to_owned()),
    ]);
    let options = BuildImageOptionsBuilder::default()
        .dockerfile("Dockerfile")
        .t(FIXTURE_IMAGE)
        .rm(true)
        .forcerm(true)
        .labels(&labels)
        .build();
    let steps = docker
        .build_image(options, None, Some(bollard::body_full(tar.into())))
        .collect::<Vec<_>>()
        .map(Ok::<_, bollard::errors::Error>);
    let steps = within(
        BUILD_TIMEOUT,
        || "build the fixture image".to_owned(),
        steps,
    )
    .await?
    .unwrap_or_default();
    for step in steps {
        let step = step.map_err(engine("cannot build the fixture image"))?;
        if let Some(detail) = step.error_detail.and_then(|d| d.message) {
            return Err(DockerError::Engine(format!(
                "cannot build the fixture image: {detail}"
            )));
        }
    }
    Ok(true)
}

/// One file of a rootfs image: its path inside, its bytes, its mode; or a
/// symlink (`link` set, `data` empty).
#[derive(Debug, Clone)]
pub struct RootfsFile {
    pub path: String,
    pub data: Vec<u8>,
    pub mode: u32,
    pub link: Option<String>,
}

/// Builds image `tag` offline from `files` (`FROM scratch`, every file
/// copied to its path) with `cmd` as its `CMD`: how squall's tests and
/// examples make images of other software without a registry (a binary
/// from a Debian package, say). Labelled `squall.managed.image=rootfs`.
pub async fn build_rootfs(
    docker: &Docker,
    tag: &str,
    files: &[RootfsFile],
    cmd: &[&str],
) -> Result<(), DockerError> {
    let quoted: Vec<String> = cmd.iter().map(|c| format!("{c:?}")).collect();
    let dockerfile = format!(
        "FROM scratch\nCOPY rootfs/ /\nCMD [{}]\n",
        quoted.join(", ")
    );
    let pack = || -> std::io::Result<Vec<u8>> {
        let mut tar = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(dockerfile.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, "Dockerfile", dockerfile.as_bytes())?;
        for f in files {
            let path = format!("rootfs/{}", f.path.trim_start_matches('/'));
            let mut header = tar::Header::new_gnu();
            header.set_mode(f.mode);
            match &f.link {
                Some(target) => {
                    header.set_entry_type(tar::EntryType::Symlink);
                    header.set_size(0);
                    tar.append_link(&mut header, &path, target)?;
                }
                None => {
                    header.set_size(f.data.len() as u64);
                    header.set_cksum();
                    tar.append_data(&mut header, &path, &f.data[..])?;
                }
            }
        }
        tar.into_inner()
    };
    let tar =
        pack().map_err(|e| DockerError::Engine(format!("cannot pack the build context: {e}")))?;
    let labels = HashMap::from([(format!("{LABEL_MANAGED}.image"), "rootfs".to_owned())]);
    let options = BuildImageOptionsBuilder::default()
        .dockerfile("Dockerfile")
        .t(tag)
        .rm(true)
        .forcerm(true)
        .labels(&labels)
        .build();
    let steps = docker
        .build_image(options, None, Some(bollard::body_full(tar.into())))
        .collect::<Vec<_>>()
        .map(Ok::<_, bollard::errors::Error>);
    let steps = within(BUILD_TIMEOUT, || format!("build image `{tag}`"), steps)
        .await?
        .unwrap_or_default();
    for step in steps {
        let step = step.map_err(engine(format!("cannot build image `{tag}`")))?;
        if let Some(detail) = step.error_detail.and_then(|d| d.message) {
            return Err(DockerError::Engine(format!(
                "cannot build image `{tag}`: {detail}"
            )));
        }
    }
    Ok(())
}

/// Checks that `image` is on the engine. The fixture image, when missing,
/// is built from squall's source checkout if it is still where this binary
/// was built from (a clone run with `cargo run`, as the README does):
/// `building` is told first, since the first build takes minutes.
pub async fn ensure(
    docker: &Docker,
    image: &str,
    building: impl FnOnce(&Path),
) -> Result<(), DockerError> {
    if present(docker, image).await? {
        return Ok(());
    }
    let workspace = (image == FIXTURE_IMAGE)
        .then(source_workspace)
        .flatten()
        .ok_or_else(|| DockerError::MissingImage(image.to_owned()))?;
    building(&workspace);
    let binary = tokio::task::spawn_blocking(move || build_static_fixture(&workspace))
        .await
        .map_err(|e| DockerError::Engine(format!("building the static fixture failed: {e}")))??;
    build(docker, &binary).await?;
    Ok(())
}

/// Whether `image` is on the engine.
pub async fn present(docker: &Docker, image: &str) -> Result<bool, DockerError> {
    match call(
        || format!("inspect image `{image}`"),
        docker.inspect_image(image),
    )
    .await?
    {
        Ok(_) => Ok(true),
        Err(e) if is_not_found(&e) => Ok(false),
        Err(e) => Err(engine(format!("cannot inspect image `{image}`"))(e)),
    }
}

/// The workspace this binary was built from, when it is still there:
/// the fixture image can then be built from its sources.
pub fn source_workspace() -> Option<PathBuf> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent()?;
    workspace
        .join("fixtures")
        .join("Cargo.toml")
        .is_file()
        .then(|| workspace.to_owned())
}

/// Where [`build_static_fixture`] leaves the binary of `workspace`; a
/// build that finds it there is an incremental one (seconds, not minutes).
pub fn static_fixture_path(workspace: &Path) -> PathBuf {
    static_binary_path(workspace, "squall-fixture")
}

/// Where [`build_static`] leaves binary `bin` of `workspace`.
pub fn static_binary_path(workspace: &Path, bin: &str) -> PathBuf {
    static_target_dir(workspace)
        .join(TARGET)
        .join("release")
        .join(bin)
}
