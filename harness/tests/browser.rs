//! report.html and a suite's index.html in a real browser: Debian's
//! `chromium`, headless. The string checks of `tests/html.rs` and
//! `tests/suite.rs` say what the pages contain; this says a browser draws
//! them: the screenshot is not blank, the parsed DOM still holds the charts
//! and the fault windows (an unclosed tag or bad SVG would lose them), and
//! the browser logs no failed load and no error.
//!
//! The screenshots stay under `target/tmp/browser/` (the path is printed),
//! for a person to look at. Without chromium the test fails when `CI` is
//! set (.ci/run installs it) and otherwise skips with a loud message: a
//! laptop without a browser should still run the rest, but CI may not
//! quietly lose this check.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// How long one chromium invocation may take before the test gives up.
const BROWSER_TIMEOUT: Duration = Duration::from_secs(120);

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn squall(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_squall"))
        .args(args)
        .current_dir(root())
        .env("NO_COLOR", "1")
        .output()
        .expect("squall starts")
}

/// `SQUALL_CHROMIUM`, or the first of Debian's and others' names on the PATH.
fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("SQUALL_CHROMIUM") {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    let path = std::env::var_os("PATH")?;
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .flat_map(|name| std::env::split_paths(&path).map(move |d| d.join(name)))
        .find(|p| p.is_file())
}

/// Runs chromium headless on `page` with `extra` flags; its output.
fn browse(browser: &Path, profile: &Path, page: &Path, extra: &[String]) -> Output {
    let url = format!("file://{}", page.canonicalize().unwrap().display());
    let child = Command::new(browser)
        .args([
            "--headless",
            // Root in a container: chromium's sandbox needs namespaces it may not get.
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
            &format!("--user-data-dir={}", profile.display()),
        ])
        .args(extra)
        .arg(&url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chromium starts");
    let id = child.id();
    let started = Instant::now();
    // A watchdog: chromium hung on a broken machine must not hang the suite.
    let watchdog = std::thread::spawn(move || {
        while started.elapsed() < BROWSER_TIMEOUT {
            std::thread::sleep(Duration::from_millis(200));
            if !Path::new(&format!("/proc/{id}")).exists() {
                return false;
            }
        }
        let _ = Command::new("kill").arg(id.to_string()).status();
        true
    });
    let out = child.wait_with_output().expect("chromium ends");
    let _ = watchdog.join();
    out
}

/// Errors the browser logged: a resource it could not load (the page is
/// meant to need none), or a script error.
fn logged_errors(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| {
            l.contains("Failed to load resource")
                || l.contains("Uncaught")
                || (l.contains(":CONSOLE") && l.to_lowercase().contains("error"))
        })
        .collect()
}

/// Takes a screenshot of `page` into `png` and checks it is a drawn page:
/// many distinct colours and a spread of brightness, not one flat colour.
fn screenshot(browser: &Path, profile: &Path, page: &Path, png: &Path, height: u32) {
    let _ = std::fs::remove_file(png);
    let out = browse(
        browser,
        profile,
        page,
        &[
            format!("--window-size=1280,{height}"),
            format!("--screenshot={}", png.display()),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        png.is_file(),
        "no screenshot of {}: exit {:?}\n{stderr}",
        page.display(),
        out.status.code()
    );
    let errors = logged_errors(&stderr);
    assert!(errors.is_empty(), "{}: {errors:#?}", page.display());

    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(png).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (1280, height));
    let channels = info.color_type.samples();
    assert!(channels >= 3, "{:?}", info.color_type);
    let pixels = &buf[..info.buffer_size()];
    let mut colours = std::collections::BTreeSet::new();
    let (mut sum, mut sum_sq, mut n) = (0.0f64, 0.0f64, 0.0f64);
    for px in pixels.chunks(channels) {
        let luma = 0.299 * f64::from(px[0]) + 0.587 * f64::from(px[1]) + 0.114 * f64::from(px[2]);
        sum += luma;
        sum_sq += luma * luma;
        n += 1.0;
        colours.insert((px[0], px[1], px[2]));
    }
    let mean = sum / n;
    let variance = sum_sq / n - mean * mean;
    eprintln!(
        "screenshot {}: {} colours, luma variance {variance:.0}",
        png.display(),
        colours.len()
    );
    assert!(
        variance > 100.0,
        "{} looks blank: luma variance {variance:.1}",
        png.display()
    );
    assert!(
        colours.len() > 50,
        "{} has only {} colours",
        png.display(),
        colours.len()
    );
}

/// The DOM chromium built from `page`, serialised.
fn dom(browser: &Path, profile: &Path, page: &Path) -> String {
    let out = browse(browser, profile, page, &["--dump-dom".to_owned()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "--dump-dom: {stderr}");
    let errors = logged_errors(&stderr);
    assert!(errors.is_empty(), "{}: {errors:#?}", page.display());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn report_and_suite_index_render_in_headless_chromium() {
    let Some(browser) = chromium() else {
        if std::env::var_os("CI").is_some() {
            panic!("chromium is not installed, and CI must run this test (.ci/run installs Debian's `chromium`)");
        }
        // Straight to stderr, past the test harness's capture: a skip that
        // only `--nocapture` shows would be a silent pass.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "\n\n!!!! SKIPPED: tests/browser.rs needs chromium (apt-get install chromium, or set SQUALL_CHROMIUM); report.html and index.html were NOT checked in a browser !!!!\n"
        );
        return;
    };
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    let profile = out.join("profile");

    // A real run: card-auth's two faults (10s..30s, 15s..25s) and a recovery.
    let runs = out.join("run");
    let o = squall(&[
        "run",
        "scenarios/card-auth.toml",
        "--duration",
        "35s",
        "--out",
        runs.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let run_dir = std::fs::read_dir(runs.join("card-auth"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let report = run_dir.join("report.html");

    // A suite: a pass, a documented weakness.
    let suite = out.join("suite");
    let o = squall(&[
        "suite",
        "scenarios/search-degrade.toml",
        "scenarios/retry-storm.toml",
        "--duration",
        "35s",
        "--out",
        suite.to_str().unwrap(),
    ]);
    assert!(
        o.status.code().is_some(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let index = suite.join("index.html");
    assert!(index.is_file());

    let shot = out.join("report.png");
    screenshot(&browser, &profile, &report, &shot, 2400);
    let shot_index = out.join("index.png");
    screenshot(&browser, &profile, &index, &shot_index, 900);
    {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "browser.rs: screenshots in {} and {}",
            shot.display(),
            shot_index.display()
        );
    }

    let page = dom(&browser, &profile, &report);
    assert_eq!(
        page.matches("<figure class=\"chart\">").count(),
        4,
        "charts"
    );
    assert!(
        page.matches("<svg").count() >= 4 + 10,
        "charts and waterfalls"
    );
    // Each fault's window, shaded in both timelines, survives parsing.
    assert!(
        page.matches("opacity=\"0.2\"").count() >= 4,
        "fault windows: {}",
        page.matches("opacity=\"0.2\"").count()
    );
    assert!(page.contains("kill ledger-1"), "the fault's label");
    assert!(page.contains("<section id=\"faults\">"));

    let page = dom(&browser, &profile, &index);
    assert_eq!(page.matches("<tr class=\"scenario ").count(), 2);
    assert!(page.contains("<span class=\"badge pass\""));
    assert!(page.contains("<span class=\"badge weakness\""));
    assert!(page.contains("/report.html\">seed "));
}
