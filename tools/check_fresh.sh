#!/usr/bin/env bash
# What a newcomer does, on the commit checked out here (HEAD): clone it into a temporary
# folder, run the two commands of the README there, then require a clean work tree.
#
#   tools/check_fresh.sh        (or: make check-fresh)
#
# It checks HEAD, not uncommitted changes: commit first. The clone makes its own .venv, so
# this takes the install plus the suite (about 6 minutes). On success the folder is removed;
# on failure it is kept, and named, for a look.
set -euo pipefail

source_repo="$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)"
head="$(git -C "$source_repo" rev-parse HEAD)"
if [ -n "$(git -C "$source_repo" status --porcelain)" ]; then
  echo "check-fresh: note: uncommitted changes here are not part of the check" >&2
fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/cohortpress-fresh.XXXXXX")"
finish() {
  code=$?
  if [ "$code" -eq 0 ]; then
    rm -rf "$tmp"
  else
    echo "check-fresh: FAILED (exit $code); the clone is left in $tmp" >&2
  fi
}
trap finish EXIT

echo "check-fresh: cloning $(git -C "$source_repo" log -1 --format='%h %s' "$head") into $tmp"
git clone --quiet --no-hardlinks "$source_repo" "$tmp/cohortpress"
cd "$tmp/cohortpress"
if ! git cat-file -e "$head^{commit}" 2>/dev/null; then
  echo "check-fresh: HEAD ($head) is on no branch, so a clone does not have it" >&2
  exit 1
fi
git checkout --quiet --detach "$head"

echo "check-fresh: make report"
make report
echo "check-fresh: make test"
make test

status="$(git status --porcelain)"
if [ -n "$status" ]; then
  echo "check-fresh: make report && make test left the work tree changed:" >&2
  echo "$status" >&2
  exit 1
fi
echo "check-fresh: ok: git clone, make report, make test pass and git status --porcelain is empty"
