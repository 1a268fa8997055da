#!/usr/bin/env bash
# The one test command: formatting, lints, every Rust test (unit and
# end-to-end), then the Python interop tests (pinned venv under .cache/).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
echo "== cargo fmt --check"
cargo fmt --check
echo "== cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --quiet -- -D warnings
echo "== cargo test"
cargo test
if ! compgen -G "tests/python/test_*.py" > /dev/null; then exit 0; fi
echo "== python interop tests"
bin="$(tests/python/env.sh)"
cargo build --quiet --bin mcq
export MCQ_BIN="$PWD/target/debug/mcq"
export PYTHONDONTWRITEBYTECODE=1
"$bin/python" -m pytest -q -p no:cacheprovider tests/python
