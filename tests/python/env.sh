#!/usr/bin/env bash
# Creates (once) a pinned Python environment and prints its bin folder.
#   env.sh         .cache/venv        from requirements.txt (interop tests, benchmarks)
#   env.sh dicom   .cache/venv-dicom  from requirements.txt + requirements-dicom.txt
#                                     (adds python-gdcm, Pillow and scipy: pixel-equality
#                                     tests, the look-alike generators and the image-ingest benchmark)
# Each venv is rebuilt when the hash of its requirement files changes.
# MCQ_PY_CACHE moves the folder the venvs live in (default: .cache/).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cache="${MCQ_PY_CACHE:-$root/.cache}"
case "${1:-}" in
  "") venv="$cache/venv"; reqs=("$here/requirements.txt") ;;
  dicom) venv="$cache/venv-dicom"; reqs=("$here/requirements.txt" "$here/requirements-dicom.txt") ;;
  *) echo "usage: $0 [dicom]" >&2; exit 2 ;;
esac
stamp="$venv/.requirements.sha256"
if [ "${#reqs[@]}" -eq 1 ]; then
  want="$(sha256sum "${reqs[0]}" | cut -d' ' -f1)"
else
  want="$(cat "${reqs[@]}" | sha256sum | cut -d' ' -f1)"
fi
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setting up $venv from ${reqs[*]}" >&2
  python3 -m venv "$venv"
  args=()
  for r in "${reqs[@]}"; do args+=(-r "$r"); done
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${args[@]}" >&2
  echo "$want" > "$stamp"
fi
echo "$venv/bin"
