# fitbox: the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
export PATH := $(CURDIR)/.tools/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH):$(CURDIR)/.tools/lambda-venv/bin

.PHONY: run test setup build-web lint test-native test-wasm test-web test-e2e check-aarch64 check-deploy deploy bench

## Run the whole stack locally: web app + API + embedded S3 + resize workers on http://127.0.0.1:8080
run: setup build-web
	cargo build --release -p fitbox
	./target/release/fitbox serve --dist dist

## Every test (what CI runs): installs what it needs first. Each step prints its start time.
test: setup lint test-native test-wasm test-web test-e2e check-aarch64 check-deploy fuzz-smoke
	@echo "== $$(date +%T) make test: all suites passed"

setup:
	@echo "== $$(date +%T) setup"
	scripts/setup.sh

build-web:
	trunk build --release

lint:
	@echo "== $$(date +%T) lint"
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

# Native unit, integration, corpus, API, S3, resize, serve and template tests.
test-native:
	@echo "== $$(date +%T) test-native"
	cargo test --workspace

# fitbox-core compiled to wasm32 in headless Chromium: pixel hashes equal the native ones.
test-wasm:
	@echo "== $$(date +%T) test-wasm"
	scripts/test-wasm-core.sh

# The web app's own logic (wasm-bindgen-test in headless Chromium).
test-web:
	@echo "== $$(date +%T) test-web"
	scripts/test-web.sh

# Browser end-to-end tests against a real `fitbox serve`: the fitbox binary as
# `cargo test --workspace` builds it (same features, so nothing is rebuilt after test-native;
# `cargo build -p fitbox` alone would rebuild dependencies with other features).
test-e2e:
	@echo "== $$(date +%T) test-e2e"
	cargo test --workspace --no-run -q
	FITBOX_BIN=$(CURDIR)/target/debug/fitbox scripts/test-web.sh e2e

# The aarch64 (Graviton) build gives the same pixels: cross-build, run under qemu.
check-aarch64:
	@echo "== $$(date +%T) check-aarch64"
	scripts/check-aarch64.sh

# cfn-lint, SAM transform, checkov, cargo lambda build --arm64.
check-deploy:
	@echo "== $$(date +%T) check-deploy"
	scripts/check-deploy.sh

## Deploy to AWS (needs the AWS SAM CLI and credentials); see deploy/README.md.
deploy:
	deploy/deploy.sh

## fitbox vs vipsthumbnail / ImageMagick / Pillow on ../shared/testdata/photos; writes bench/RESULTS.md.
bench:
	scripts/bench.sh

.PHONY: fuzz fuzz-smoke
## Fuzz every cargo-fuzz target (guard, decode, thumbnail, api_json) for FUZZ_SECS each (default
## 300) with a 512 MB / 10 s per-input limit; crashes land in fuzz/artifacts/. cargo-fuzz on stable (RUSTC_BOOTSTRAP=1).
fuzz:
	scripts/fuzz.sh $(or $(FUZZ_SECS),300)

# CI: each fuzz target for 20 s (about 2 minutes with the build cached).
fuzz-smoke:
	@echo "== $$(date +%T) fuzz-smoke"
	scripts/fuzz.sh 20
