# stackgen: one command deploys the stack. `just --list` shows the recipes.

# Wherever cargo puts it: `CARGO_TARGET_DIR` when set (many Rust users set it), else target/.
stackgen := env_var_or_default("CARGO_TARGET_DIR", justfile_directory() / "target") / "release" / "stackgen"
export STACKGEN_BIN := stackgen
# The project's own virtualenv for Python tools (scripts/ensure-tools.sh makes it).
venv := justfile_directory() / ".venv"
# The base image every Dockerfile builds FROM, as stack.toml names it.
base_image := `sed -n 's/^base_image *= *"\([^"]*\)".*/\1/p' stack.toml`

# Deploy the whole stack (base image, stackgen, build, up --wait), then smoke-test it.
deploy: tools base build
    {{stackgen}} up
    just smoke

# Run every test: lints, unit tests, and end-to-end tests against the real Docker engine.
test: test-tools base lint
    cargo test --locked
    just bench-smoke

# Static checks: formatting, clippy (no function over 100 lines in src/), the module
# layers and no import cycle, generated files and stack.schema.json up to date, the
# security policy, hadolint on every Dockerfile, compose-lint (CIS-mapped rules) on the
# compose file.
lint: test-tools
    cargo fmt --check
    cargo clippy --locked --all-targets -- -D warnings
    cargo test --locked --test structure
    cargo build --locked --release
    {{stackgen}} render --check
    {{stackgen}} schema --check
    {{stackgen}} check
    {{venv}}/bin/hadolint apps/*/Dockerfile images/*/Dockerfile
    {{venv}}/bin/compose-lint --config .compose-lint.yml --fail-on low --strict-config --skip-suppressed -q generated/docker-compose.yml

# Query every published app; fail unless each answers "Hello, world!".
smoke:
    scripts/smoke.sh {{stackgen}}

# Preview a deploy: the compose file diff and what `up` would do to each service, and why.
diff: build
    {{stackgen}} diff

# Each service's state, health, URL, and whether it matches the generated file.
status: build
    {{stackgen}} status

# The services' logs: `just logs hello -f`, `just logs --since 10m`, `just logs --tail 20 db`.
logs *args: build
    {{stackgen}} logs {{args}}

# The generations: every successful deploy, the current one marked (`--json` too).
history *args: build
    {{stackgen}} history {{args}}

# Deploy an earlier generation again, building nothing: `just rollback [N]`.
rollback *args: build
    {{stackgen}} rollback {{args}}

# Dump the database into .stackgen/backups/ (checked whole before it is kept).
backup *args: build
    {{stackgen}} backup {{args}}

# Stop the stack; its data volume is kept (`{{stackgen}} down --volumes` deletes it).
down: build
    {{stackgen}} down

# Re-render generated/ after editing stack.toml or templates/.
render: build
    {{stackgen}} render

# Shell completions (bash, zsh, fish) and the man page, into your home folder; put the
# binary on PATH with `cargo install --locked --path .`.
install-completions: build
    mkdir -p ~/.local/share/bash-completion/completions ~/.zfunc ~/.config/fish/completions ~/.local/share/man/man1
    {{stackgen}} completions bash > ~/.local/share/bash-completion/completions/stackgen
    {{stackgen}} completions zsh > ~/.zfunc/_stackgen
    {{stackgen}} completions fish > ~/.config/fish/completions/stackgen.fish
    {{stackgen}} man > ~/.local/share/man/man1/stackgen.1
    @echo "installed; zsh needs 'fpath+=~/.zfunc' before compinit in ~/.zshrc"

# Make sure the base image exists: present, else pulled, else built from Debian packages.
base:
    scripts/base-image.sh "{{base_image}}"

# Install the Docker Compose v2 plugin when it is missing (all `deploy` needs).
tools:
    scripts/ensure-tools.sh deploy

# What the tests need besides: hadolint and compose-lint in .venv/, hyperfine, wrk.
test-tools:
    scripts/ensure-tools.sh test

# Three Docker engines on this machine, each in a network namespace of its own, in a
# swarm, with a registry (needs root and cgroup v1): `just nodes up` ends with the
# `export` lines a shell needs, `just nodes status`, `just nodes down`. The host's own
# engine is never touched.
nodes cmd="status":
    scripts/ensure-tools.sh nodes >/dev/null
    scripts/nodes.sh {{cmd}}

# The whole path to Docker Swarm on three nodes: nodes up, push from this host's engine,
# deploy through the manager, smoke check, nodes down.
swarm-demo: base build
    scripts/ensure-tools.sh nodes >/dev/null
    scripts/swarm-demo.sh

# Benchmarks side by side with plain compose and the hardware limit -> BENCHMARKS.md.
bench: test-tools base build
    python3 scripts/bench.py

# CI's quick check that the benchmark harness still runs (tiny inputs, report discarded).
bench-smoke: test-tools base build
    python3 scripts/bench.py --smoke

build:
    cargo build --locked --release

# The reference book (docs/) as HTML in docs/book/, with mdBook (installed with cargo when
# missing). Not part of `just test`: tests/docs.rs checks the pages' links without it.
book:
    command -v mdbook >/dev/null 2>&1 || cargo install --locked mdbook
    mdbook build docs

# Each stack is rendered and read back by `docker compose config` (tests/render_oracle.rs);
# with STACKGEN_ORACLE_SURVEY=1 every kind of failure is counted instead of the first shrunk.
# The render oracle at length: 2,000 random stacks on a fresh seed (printed).
oracle-long: tools
    STACKGEN_ORACLE_CASES=2000 STACKGEN_ORACLE_SEED="$(od -An -N8 -tu8 /dev/urandom | tr -d ' ')" cargo test --locked --test render_oracle compose_reads_back_what_stack_toml_says -- --nocapture
