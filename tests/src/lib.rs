//! fitbox-tests: cross-crate tests live in `tests/` (the template security test) and browser
//! end-to-end tests in `e2e/` (playwright-core against a real `fitbox serve`).
