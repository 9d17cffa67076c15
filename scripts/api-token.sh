#!/usr/bin/env bash
# The API token `make run` uses and prints: var/run/api-token (mode 0600), an admin token made
# with `probewatch tokens create` the first time, or again when Kafka no longer knows it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
file="$root/var/run/api-token"
mkdir -p "$(dirname "$file")"
if [ -s "$file" ]; then
  id=$(cut -d_ -f2 "$file")
  if "$root/.venv/bin/probewatch" tokens list 2>/dev/null | grep -q "^$id "; then
    exit 0
  fi
fi
umask 077
"$root/.venv/bin/probewatch" tokens create --role admin --label "make run" >"$file.new"
mv "$file.new" "$file"
echo "api token: made var/run/api-token (admin); the API now asks every client for a token"
