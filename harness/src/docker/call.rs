//! Every engine call has a deadline.
//!
//! An engine can stop answering without going away: Docker 20.10 before
//! 20.10.27 has a libnetwork deadlock that leaves `docker ps` answering while
//! every network call, container start and removal hangs forever
//! (docs/docker.md, "The engine deadlock"). squall must never hang on such an
//! engine, so every call goes through [`call`], which bounds it by
//! [`timeout`]. The first call that gets no answer marks the engine as not
//! answering for the rest of the process: later calls fail at once with the
//! same error rather than each waiting out its own timeout, so a teardown of
//! ten containers ends in one timeout, not ten, and the run can say what it
//! left behind.

use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use super::DockerError;

/// How long one engine call may take by default.
///
/// A container start or removal takes well under a second on a healthy
/// engine, a network creation a few hundred milliseconds; 30 s is far past
/// any of them on a loaded machine and short enough that a wedged engine
/// ends a run in under a minute.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The environment variable that overrides [`DEFAULT_TIMEOUT`]: a duration
/// with its unit (`"5s"`, `"500ms"`).
pub const TIMEOUT_ENV: &str = "SQUALL_ENGINE_TIMEOUT";

/// The first call that got no answer, once one did.
static NOT_ANSWERING: Mutex<Option<DockerError>> = Mutex::new(None);

/// How long one engine call may take: `$SQUALL_ENGINE_TIMEOUT` or
/// [`DEFAULT_TIMEOUT`]. A value that does not parse is ignored with a
/// warning: the default is the safe choice.
pub fn timeout() -> Duration {
    let Ok(text) = std::env::var(TIMEOUT_ENV) else {
        return DEFAULT_TIMEOUT;
    };
    match crate::scenario::parse_duration(&text) {
        Ok(d) if d > Duration::ZERO => d,
        _ => {
            tracing::warn!(
                value = text,
                "`{TIMEOUT_ENV}` is not a positive duration such as `5s`; using {}s",
                DEFAULT_TIMEOUT.as_secs()
            );
            DEFAULT_TIMEOUT
        }
    }
}

/// The error of the first call that got no answer, if one did.
pub fn not_answering() -> Option<DockerError> {
    lock().clone()
}

fn lock() -> std::sync::MutexGuard<'static, Option<DockerError>> {
    NOT_ANSWERING.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs the engine call `what` (in words: "remove container `x`") within
/// [`timeout`]. The outer error is the engine not answering (now or
/// before); the inner result is the engine's own answer, for the caller to
/// interpret (a 404 means different things to different calls).
pub async fn call<T>(
    what: impl FnOnce() -> String,
    request: impl Future<Output = Result<T, bollard::errors::Error>>,
) -> Result<Result<T, bollard::errors::Error>, DockerError> {
    within(timeout(), what, request).await
}

/// [`call`] with a deadline of its own, for the calls that legitimately take
/// longer (an image build) or must be quicker (a probe).
pub async fn within<T>(
    limit: Duration,
    what: impl FnOnce() -> String,
    request: impl Future<Output = Result<T, bollard::errors::Error>>,
) -> Result<Result<T, bollard::errors::Error>, DockerError> {
    if let Some(e) = not_answering() {
        return Err(e);
    }
    match tokio::time::timeout(limit, request).await {
        // bollard's own deadline (a backstop, see `connect`) means the same.
        Ok(Err(bollard::errors::Error::RequestTimeoutError)) | Err(_) => {
            let e = DockerError::NotAnswering {
                call: what(),
                after: limit,
            };
            // Keep the first: it names the call that found the engine wedged.
            Err(lock().get_or_insert(e).clone())
        }
        Ok(answer) => Ok(answer),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_call_without_an_answer_fails_after_its_deadline_and_so_do_later_ones() {
        let answered = within(
            Duration::from_millis(500),
            || "list containers".to_owned(),
            async { Ok::<_, bollard::errors::Error>(7) },
        )
        .await;
        assert!(matches!(answered, Ok(Ok(7))));

        let hung = within(
            Duration::from_millis(50),
            || "remove container `a`".to_owned(),
            std::future::pending::<Result<(), bollard::errors::Error>>(),
        )
        .await;
        let Err(DockerError::NotAnswering { call, after }) = hung else {
            panic!("expected NotAnswering, got {hung:?}");
        };
        assert_eq!(call, "remove container `a`");
        assert_eq!(after, Duration::from_millis(50));

        // Later calls fail at once, naming the first call that hung.
        let start = std::time::Instant::now();
        let later = within(
            Duration::from_secs(5),
            || "remove network `n`".to_owned(),
            async { Ok::<_, bollard::errors::Error>(()) },
        )
        .await;
        assert!(start.elapsed() < Duration::from_secs(1));
        assert!(
            matches!(&later, Err(DockerError::NotAnswering { call, .. }) if call == "remove container `a`"),
            "{later:?}"
        );
        *lock() = None;
    }
}
