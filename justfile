# squall's everyday recipes. `just --list` shows them.

# Run the tests, as CI does (the README's test command)
test:
    cargo test --workspace --locked

# Rewrite the golden report.json of every scenario (on purpose: commit them alone, saying why)
bless:
    SQUALL_BLESS=1 cargo test -p squall --test golden

# Run every scenario in scenarios/ in the simulator
sim:
    cargo run --release -- run scenarios/*.toml

# Run one scenario in the simulator, e.g. `just run scenarios/card-auth.toml --seed 7`
run *ARGS:
    cargo run --release -- run {{ARGS}}

# Explore random fault schedules, e.g. `just explore scenarios/card-auth.toml --cases 500`
explore *ARGS:
    cargo run --release -- explore {{ARGS}}

# card-auth survives 200 explored cases of 10 s (the resilience check in docs/explore.md)
explore-card-auth:
    cargo run --release -- explore scenarios/card-auth.toml --cases 200 --duration 10s

# Find, shrink and write the documented overlap weakness
explore-weakness:
    cargo run --release -- explore scenarios/overlap-weakness.toml --seed 5 --cases 30

# Lints and formatting, as CI checks them
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets --locked -- -D warnings

# Simulator throughput and memory against bare turmoil (release build)
bench:
    cargo bench -p squall --bench sim_throughput

# Simulator wall time from 12 to 384 instances against bare turmoil with as many idle hosts
bench-scale:
    cargo bench -p squall --bench sim_scale

# Build the fixture image offline (static binary, FROM scratch): squall-fixture:latest
fixture-image:
    cargo run --release -p squall --example fixture_image

# Run every scenario on Docker at full length (needs root, nftables and the engine)
docker-full: fixture-image
    cargo run --release -- run --backend docker scenarios/*.toml scenarios/regressions/*.toml

# Run the Docker backend's tests alone (real engine)
docker-test:
    cargo test -p squall --test docker --locked -- --nocapture

# Fault actuation latency and load-driver overhead against wrk, on Docker
docker-bench: fixture-image
    cargo bench -p squall --bench docker_actuation

# Everything CI runs
ci:
    bash .ci/run
