# squall's everyday recipes. `just --list` shows them.

# Run the tests, as CI does (the README's test command)
test:
    cargo test --workspace --locked

# Run every scenario in scenarios/ in the simulator
sim:
    cargo run --release -- run scenarios/*.toml

# Run one scenario in the simulator, e.g. `just run scenarios/card-auth.toml --seed 7`
run *ARGS:
    cargo run --release -- run {{ARGS}}

# Lints and formatting, as CI checks them
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets --locked -- -D warnings

# Simulator throughput and memory against bare turmoil (release build)
bench:
    cargo bench -p squall --bench sim_throughput

# Everything CI runs
ci:
    bash .ci/run
