#!/usr/bin/env bash
# Print every week (YYYY-Www) the push from BEFORE to AFTER finished, one a line: finished
# (a digest dated after it exists) at AFTER but not at BEFORE. A later push in the same week
# finishes nothing again, and a push editing an old digest finishes nothing. The push's
# starting commit is push-base.sh's.
set -euo pipefail

after="${AFTER:-HEAD}"
before="$("$(dirname "$0")/push-base.sh")"
[[ -n "$before" ]] || exit 0

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

# The finished weeks of the digests in seeds/ at one commit, sorted for comm.
finished_at() {
  local folder="$scratch/$1"
  mkdir -p "$folder/seeds"
  if git cat-file -e "$1:seeds" 2>/dev/null; then
    git archive "$1" seeds | tar -x -C "$folder"
  fi
  newsletter weeks --seeds "$folder/seeds" | sort
}

if ! finished_at "$before" >"$scratch/before.txt"; then
  echo "::warning::the digests at $before do not parse; no week counts as finished by this push" >&2
  exit 0
fi
finished_at "$after" >"$scratch/after.txt"
comm -13 "$scratch/before.txt" "$scratch/after.txt"
