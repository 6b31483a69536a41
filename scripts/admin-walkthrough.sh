#!/usr/bin/env bash
# The walkthrough of docs/admin.md, run for real: start a server with an
# admin token, create a repository with a quota and an append-only backup
# token, back up into it the way a vger client does (curl replays the
# requests of a real client session), watch `vger-admin repo list` show the
# backup, break a stuck lock, and revoke the token. Every step is checked;
# the output is the terminal session.
#
# Usage: scripts/admin-walkthrough.sh [DIR_WITH_BINARIES]  (default target/debug)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${1:-target/debug}")
work=$(mktemp -d)
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

# A port nothing listens on (bash's /dev/tcp: no python or netstat needed).
free_port() {
    local p
    while :; do
        p=$((20000 + RANDOM % 40000))
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
    done
}
fail() { echo "FAILED: $*" >&2; exit 1; }
# Shows a command as typed, then runs it.
run() { echo "\$ $*"; "$@"; }
expect() { grep -q -- "$1" <<<"$2" || fail "expected \"$1\" in: $2"; }

if ! command -v curl >/dev/null 2>&1; then
    echo "== installing curl"
    apt-get update -qq && apt-get install -y -qq curl
fi
port=$(free_port); admin_port=$(free_port)
cat > "$work/vger-server.toml" <<TOML
[server]
listen = "127.0.0.1:$port"
data_dir = "$work/data"
[admin]
listen = "127.0.0.1:$admin_port"
TOML
export VGER_TOKEN="$(head -c 32 /dev/urandom | base64 | tr -d '/+=')"
export VGER_ADMIN_TOKEN="$(head -c 32 /dev/urandom | base64 | tr -d '/+=')"
export VGER_ADMIN_URL="http://127.0.0.1:$admin_port"
export PATH="$bin:$PATH"
"$bin/vger-server" --config "$work/vger-server.toml" 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
grep -o 'admin API listening.*' "$work/server.log" | sed 's/\x1b\[[0-9;]*m//g'

echo; echo "## 1. Create a repository with a quota, and a backup token that cannot delete history"
run vger-admin repo create laptop --quota 50GiB --freshness 26h
out=$(run vger-admin token create --label laptop-backup --repo laptop --mode append-only)
echo "$out"
secret=$(tail -n1 <<<"$out")
expect "vger_" "$secret"

echo; echo "## 2. The client backs up with that token (the requests of a vykar 0.16 backup)"
base="http://127.0.0.1:$port/laptop"
put() { # KEY FILE: PUT with the body's BLAKE2b-256, prints "PUT KEY -> status"
    local sum; sum=$(b2sum -l 256 "$2" | cut -d' ' -f1)
    printf '%-6s %-36s -> %s\n' PUT "$1" "$(curl -s -o /dev/null -w '%{http_code}' -X PUT \
        -H "Authorization: Bearer $secret" -H "X-Content-BLAKE2b: $sum" --data-binary @"$2" "$base/$1")"
}
call() { # METHOD PATH
    printf '%-6s %-36s -> %s\n' "$1" "$2" "$(curl -s -o /dev/null -w '%{http_code}' -X "$1" \
        -H "Authorization: Bearer $secret" "$base/$2")"
}
head -c 300 /dev/urandom > "$work/config"; head -c 500 /dev/urandom > "$work/key"
head -c 2000 /dev/urandom > "$work/index"; printf '\001\000\000\000\000\000\000\000' > "$work/gen"
echo '{}' > "$work/json"
# A pack: the magic, then one length-prefixed blob; its name is its hash.
{ printf 'VGERPACK\001'; printf '\000\020\000\000'; head -c 4096 /dev/urandom; } > "$work/pack"
pack=$(b2sum -l 256 "$work/pack" | cut -d' ' -f1)
session=$(
    call POST "?init"
    put config "$work/config"; put keys/repokey "$work/key"; put index "$work/index"; put index.gen "$work/gen"
    put sessions/s1.json "$work/json"; put locks/1764300000-a1.json "$work/json"
    put "packs/${pack:0:2}/$pack" "$work/pack"
    put index "$work/index"; put index.gen "$work/gen"; put snapshots/5da1eceb "$work/json"
    call DELETE sessions/s1.json; call DELETE locks/1764300000-a1.json
)
echo "$session"
expect "snapshots/5da1eceb  *-> 201" "$session"
expect "DELETE locks/1764300000-a1.json *-> 204" "$session"

echo; echo "## 3. The backup shows in the repository list"
out=$(run vger-admin repo list); echo "$out"
expect "laptop" "$out"; expect "ago" "$out"; expect "50.0 GiB" "$out"

echo; echo "## 4. The token cannot destroy history"
call DELETE snapshots/5da1eceb
[ -f "$work/data/laptop/snapshots/5da1eceb" ] || fail "the snapshot was deleted"

echo; echo "## 5. A client crashed and left its lock; break it"
put locks/1764300500-b2.json "$work/json"
out=$(run vger-admin lock list); echo "$out"
expect "1764300500-b2.json" "$out"
run vger-admin lock break laptop 1764300500-b2.json --yes
out=$(run vger-admin lock list); echo "$out"
expect "no locks held" "$out"

echo; echo "## 6. Revoke the token: the client is refused at once"
run vger-admin token revoke 1 --yes
out=$(call GET config); echo "$out"
expect "401" "$out"

echo; echo "## 7. The audit log has every change, refused ones too"
out=$(run vger-admin audit --repo laptop); echo "$out"
expect "client.delete" "$out"; expect "lock.break" "$out"; expect "token.create" "$out"
echo; echo "walkthrough: ok"
