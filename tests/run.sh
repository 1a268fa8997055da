#!/usr/bin/env bash
# The one test command: formatting, lints, every Rust test (unit and
# end-to-end), then the Python interop tests (pinned venv under .cache/,
# made by tests/python/env.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# Each stage's start, in seconds since the run began (CI must stay well
# under 30 minutes on a clean clone; these say where the time goes).
stage() { echo "== [${SECONDS}s] $*"; }
stage "cargo fmt --check"
cargo fmt --check
stage "cargo clippy --all-targets -- -D warnings"
cargo clippy --all-targets --quiet -- -D warnings
stage "cargo test"
cargo test
if ! compgen -G "tests/python/test_*.py" > /dev/null; then exit 0; fi
stage "python interop tests"
# The dicom venv is requirements.txt plus requirements-dicom.txt (python-gdcm
# writes the JPEG lossless/baseline files of test_pixel_equality.py).
bin="$(tests/python/env.sh dicom)"
cargo build --quiet --bin mcq --example decode
export MCQ_BIN="$PWD/target/debug/mcq"
export MCQ_DECODE_BIN="$PWD/target/debug/examples/decode"
export PYTHONDONTWRITEBYTECODE=1
"$bin/python" -m pytest -q -p no:cacheprovider --durations=8 tests/python
stage "done"
