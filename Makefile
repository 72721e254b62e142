# fitbox: the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
export PATH := $(CURDIR)/.tools/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH):$(CURDIR)/.tools/lambda-venv/bin

.PHONY: run test soak setup setup-test build-web build-local lint test-native test-wasm test-web test-e2e check-aarch64 check-deploy deploy bench

## Run the whole stack locally: web app + API + embedded S3 + resize workers on http://127.0.0.1:8080
## (`fitbox` in the `local` profile: hot crates at opt-level 3, the rest quick to build; Cargo.toml)
# The web app (wasm) and fitbox (native) build side by side: their cargo runs lock different
# build directories, and each fills the other's single-threaded stretches (link, LTO, wasm-opt).
run: setup
	@$(MAKE) --no-print-directory -j2 build-web build-local
	./target/local/fitbox serve --dist dist

build-local:
	cargo build --profile local -p fitbox

## Every test (what CI runs): installs what it needs first. Each step prints its start time, and
## the run ends with one line per step and its duration (scripts/steps.sh).
# `bg:step` runs in the background at the lowest CPU priority, on the cores the tests leave idle:
# the arm64 release build and the fuzz targets' ASan build, each in a cargo build directory of its
# own (target/aarch64-unknown-linux-gnu/release, fuzz/target). `wait` waits for them before the
# steps that use what they built; those steps then find it built.
TEST_STEPS := setup setup-test bg:build-arm64 bg:fuzz-build lint test-native test-wasm test-web test-e2e \
	wait check-deploy check-aarch64 fuzz-smoke
test:
	@scripts/steps.sh $(TEST_STEPS)

setup:
	scripts/setup.sh

# What only the tests need: Chromium, qemu, the aarch64 target, cargo-lambda, cargo-fuzz, the
# browser tests' npm packages and the deploy checks' pinned Python tools.
setup-test:
	scripts/setup-test.sh

build-web:
	scripts/build-web.sh

# clippy lints the workspace's own crates while `cargo test` compiles them: clippy-driver as the
# workspace's compiler is what `cargo clippy` sets up for `cargo check`, and given a full build it
# lints and compiles in one pass. One build then serves clippy and the tests, instead of a check
# build of every dependency (about 5 minutes cold on 2 cores) and then the test build. It covers
# what `cargo clippy --workspace --all-targets -- -D warnings` covers (libraries, binaries, tests,
# examples; the workspace has no benches). The same variables must reach every `cargo test` of
# the workspace here, or cargo would rebuild the workspace's crates without them.
# The web app (fitbox-web, fitbox-worker) is linted where it runs, for wasm32, by test-web's
# builds: its tests are all wasm-bindgen tests, and a native build of it (Leptos and the web-sys
# bindings for x86_64) would cost about a minute of this step for nothing else.
CLIPPY_BUILD := RUSTC_WORKSPACE_WRAPPER=clippy-driver CLIPPY_ARGS=-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__
NATIVE := --workspace --exclude fitbox-web --exclude fitbox-worker

lint:
	cargo fmt --all -- --check
	$(CLIPPY_BUILD) cargo test $(NATIVE) --no-run

# Native unit, integration, corpus, API, S3, resize, serve and template tests. The fault suite
# runs at its CI size here; `make soak` runs it at full size.
test-native:
	$(CLIPPY_BUILD) cargo test $(NATIVE)

## The fault suite at full size (200 uploads, 45 s of injected S3 faults; a few minutes).
soak:
	FITBOX_SOAK=full $(CLIPPY_BUILD) cargo test -p fitbox --test faults -- --nocapture

# fitbox-core compiled to wasm32 in headless Chromium: pixel hashes equal the native ones.
test-wasm:
	$(CLIPPY_BUILD) scripts/test-wasm-core.sh

# The web app's own logic (wasm-bindgen-test in headless Chromium). The build first takes in the
# page and worker binaries too (as tests, so with the same dependency features as the library's
# tests: a plain `cargo build` would compile every dependency again), so clippy lints all of
# fitbox-web (see lint).
test-web:
	$(CLIPPY_BUILD) cargo test -p fitbox-web -p fitbox-worker --target wasm32-unknown-unknown --lib --bins --no-run
	$(CLIPPY_BUILD) scripts/test-web.sh

# Browser end-to-end tests against a real `fitbox serve`: the fitbox binary as
# `cargo test $(NATIVE)` builds it (same features, so nothing is rebuilt after test-native;
# `cargo build -p fitbox` alone would rebuild dependencies with other features).
test-e2e:
	$(CLIPPY_BUILD) cargo test $(NATIVE) --no-run -q
	FITBOX_BIN=$(CURDIR)/target/debug/fitbox scripts/test-web.sh e2e

# The aarch64 (Graviton) build gives the same pixels: `fitbox thumbnail` from the one arm64
# cross build (scripts/build-arm64.sh, shared with check-deploy), run under qemu.
check-aarch64:
	scripts/check-aarch64.sh

# cfn-lint, SAM transform, checkov, cargo lambda build --arm64 (scripts/build-arm64.sh).
check-deploy:
	scripts/check-deploy.sh

## Deploy to AWS (needs the AWS SAM CLI and credentials); see deploy/README.md.
deploy:
	deploy/deploy.sh

## fitbox vs vipsthumbnail / ImageMagick / Pillow on ../shared/testdata/photos; writes bench/RESULTS.md.
bench:
	scripts/bench.sh

.PHONY: fuzz fuzz-smoke fuzz-build build-arm64
## Fuzz every cargo-fuzz target (guard, decode, thumbnail, api_json) for FUZZ_SECS each (default
## 300) with a 512 MB / 10 s per-input limit; crashes land in fuzz/artifacts/. cargo-fuzz on stable (RUSTC_BOOTSTRAP=1).
fuzz:
	scripts/fuzz.sh $(or $(FUZZ_SECS),300)

# CI: each fuzz target for 20 s, two at a time on two cores (under a minute once built).
fuzz-smoke:
	scripts/fuzz.sh 20

# Only build the fuzz targets (ASan); make test starts it in the background.
fuzz-build:
	scripts/fuzz.sh --build

# The one arm64 cross build (Lambdas + `fitbox thumbnail`) that check-deploy and check-aarch64
# share; make test starts it in the background.
build-arm64:
	scripts/build-arm64.sh
