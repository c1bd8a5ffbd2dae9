#!/usr/bin/env bash
# Supply-chain checks of deny.toml with cargo-deny, installing it first when it is missing.
#
# bans, licenses and sources always run. advisories needs a clone of the RustSec advisory
# database, which is published only as a git repository and cannot be fetched where only the
# package registries are reachable (as in CI). DENY_ADVISORIES chooses what happens:
#   auto  (default) check against an existing clone, offline; skip with a notice if none
#   fetch let cargo-deny fetch or update the database (needs access to the database's host)
#   skip  do not check advisories
set -euo pipefail
cd "$(dirname "$0")/.."

# The version installed when none is present; older ones lack options deny.toml uses.
CARGO_DENY_VERSION=0.20.2
CARGO_DENY_MIN_VERSION=0.18.2
MODE="${DENY_ADVISORIES:-auto}"

installed_version() {
  cargo deny --version 2>/dev/null | awk '{print $2}'
}

version_at_least() {
  [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]
}

current="$(installed_version || true)"
if [ -z "$current" ] || ! version_at_least "$current" "$CARGO_DENY_MIN_VERSION"; then
  echo "installing cargo-deny $CARGO_DENY_VERSION (found: ${current:-none}); this compiles it and takes a few minutes"
  start=$SECONDS
  cargo install --locked --quiet cargo-deny --version "$CARGO_DENY_VERSION"
  echo "cargo-deny installed in $((SECONDS - start)) s"
fi
cargo deny --version

echo "== cargo deny: bans, licenses, sources"
cargo deny --locked check --show-stats bans licenses sources

db_root="${CARGO_HOME:-$HOME/.cargo}/advisory-dbs"
case "$MODE" in
  fetch)
    echo "== cargo deny: advisories (fetching the database)"
    cargo deny --locked check --show-stats advisories
    ;;
  skip)
    echo "NOTICE: advisories not checked (DENY_ADVISORIES=skip)."
    ;;
  auto)
    if compgen -G "$db_root/advisory-db-*/.git" >/dev/null; then
      echo "== cargo deny: advisories (local database under $db_root, not fetched)"
      cargo deny --locked --offline check --show-stats advisories
    else
      echo "NOTICE: advisories NOT checked: no RustSec advisory database under $db_root, and it"
      echo "        cannot be fetched here (it is published as a git repository only). Run with"
      echo "        DENY_ADVISORIES=fetch where its host is reachable. Accepted advisories are"
      echo "        listed with their reasons in deny.toml."
    fi
    ;;
  *)
    echo "DENY_ADVISORIES must be auto, fetch or skip, not '$MODE'" >&2
    exit 2
    ;;
esac
echo "== cargo deny: done"
