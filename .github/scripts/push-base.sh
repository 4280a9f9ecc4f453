#!/usr/bin/env bash
# Print the commit the push from BEFORE to AFTER started from: BEFORE itself, or, when BEFORE
# is empty or all zeros (a new branch) or a commit this clone does not have (history rewritten
# by a force push), AFTER's parent. Print nothing for a root commit: with nothing before it, a
# push adds no issue and finishes no week, so a new repository does not mail its whole archive.
set -euo pipefail

after="${AFTER:-HEAD}"
before="${BEFORE:-}"

if [[ -z "$before" || "$before" =~ ^0+$ ]] || ! git cat-file -e "$before^{commit}" 2>/dev/null; then
  if ! git rev-parse --quiet --verify "$after^" >/dev/null; then
    echo "::notice::no commit before $after to compare with; the push adds no issue" >&2
    exit 0
  fi
  before="$after^"
fi
echo "$before"
