#!/usr/bin/env bash
# End-to-end test of the nginx example, docs/deploy/nginx.conf: a real
# vger-server behind a real nginx running that file (only its placeholders
# replaced) on a self-signed certificate, and a client session through it
# with curl: init, a 200 MiB pack up and down, ranges, listings, locks,
# deletes, token checks and streaming of uploads.
#
#   scripts/test-nginx.sh [SERVER_BINARY]     (default target/debug/vger-server)
#
# Installs nginx, openssl and curl with apt-get when they are missing (as
# root). Runs its own nginx and server on free loopback ports in a temp
# directory and removes everything at exit, pass or fail.
set -Eeuo pipefail
cd "$(dirname "$0")/.."
umask 077

server_bin=${1:-target/debug/vger-server}
case $server_bin in /*) ;; *) server_bin=$PWD/$server_bin ;; esac
site_src=$PWD/docs/deploy/nginx.conf
started=$SECONDS

checks=0
ok() {
    checks=$((checks + 1))
    echo "ok - $*"
}
fail() {
    echo "FAIL - $*" >&2
    exit 1
}

[ -x "$server_bin" ] || fail "no server binary at $server_bin (cargo build -p vger-server)"
[ -f "$site_src" ] || fail "missing $site_src"

# --- State that cleanup undoes -------------------------------------------
tmp=
server_pid=
nginx_pid=
policy_added=
cleanup() {
    local rc=$?
    if [ -n "$nginx_pid" ] && kill -0 "$nginx_pid" 2>/dev/null; then
        kill -TERM "$nginx_pid" 2>/dev/null || true
        wait "$nginx_pid" 2>/dev/null || true
    fi
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    if [ "$rc" -ne 0 ] && [ -n "$tmp" ]; then
        for log in "$tmp/server.log" "$tmp/nginx/error.log" "$tmp/nginx/stderr.log"; do
            if [ -s "$log" ]; then
                echo "--- last lines of ${log#"$tmp"/}" >&2
                tail -n 20 "$log" >&2
            fi
        done
    fi
    if [ -n "$policy_added" ]; then
        rm -f /usr/sbin/policy-rc.d
    fi
    if [ -n "$tmp" ]; then
        rm -rf "$tmp"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'echo "FAIL - unexpected error at line $LINENO: $BASH_COMMAND" >&2' ERR
trap 'exit 130' INT
trap 'exit 143' TERM

# --- Tools ---------------------------------------------------------------
apt_updated=
apt_install() {
    command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ] ||
        fail "$* missing: install it, or run this as root on Debian to let it use apt-get"
    if [ -z "$apt_updated" ]; then
        apt-get update -qq
        apt_updated=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

for tool in openssl curl; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "== installing $tool"
        apt_install "$tool"
    fi
done

nginx_bin=$(command -v nginx || true)
if [ -z "$nginx_bin" ] && [ -x /usr/sbin/nginx ]; then
    nginx_bin=/usr/sbin/nginx
fi
if [ -z "$nginx_bin" ]; then
    [ "$(id -u)" = 0 ] || fail "nginx missing: install it, or run this as root to let it use apt-get"
    # The package would start the system nginx on port 80 (and fail to
    # install if that port is taken). Only our own instance is wanted, so
    # tell invoke-rc.d not to start services while installing.
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        policy_added=1
    fi
    pkg=nginx
    if command -v apt-cache >/dev/null 2>&1; then
        [ -n "$apt_updated" ] || { apt-get update -qq && apt_updated=1; }
        if apt-cache show nginx-light >/dev/null 2>&1; then
            pkg=nginx-light
        fi
    fi
    echo "== installing $pkg"
    apt_install "$pkg"
    if [ -n "$policy_added" ]; then
        rm -f /usr/sbin/policy-rc.d
        policy_added=
    fi
    # Had it started anyway, stop it: it plays no part here.
    service nginx stop >/dev/null 2>&1 || true
    nginx_bin=/usr/sbin/nginx
    [ -x "$nginx_bin" ] || fail "installed $pkg but found no $nginx_bin"
fi

# --- Scratch space, certificate, ports -------------------------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/vger-nginx-test.XXXXXX")
mkdir "$tmp/nginx" "$tmp/data"
# nginx workers run as an unprivileged user when started as root: they must
# be able to reach the temp directories nginx creates for them (and only
# those; nothing here is listable).
chmod 711 "$tmp" "$tmp/nginx"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -days 2 -subj /CN=localhost \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -keyout "$tmp/key.pem" -out "$tmp/cert.pem" 2>"$tmp/openssl.log" ||
    fail "openssl could not make a certificate: $(cat "$tmp/openssl.log")"

free_ports() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c '
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))'
    else
        # Random high ports nobody answers on.
        local found=() p
        while [ "${#found[@]}" -lt 2 ]; do
            p=$((20000 + RANDOM % 40000))
            if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null &&
                [ "${found[0]:-}" != "$p" ]; then
                found+=("$p")
            fi
        done
        echo "${found[@]}"
    fi
}
read -r server_port nginx_port < <(free_ports)
[ -n "$server_port" ] && [ -n "$nginx_port" ] || fail "could not find free ports"

token=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
repo=nginx-test

# --- vger-server ---------------------------------------------------------
cat >"$tmp/server.toml" <<EOF
[server]
listen = "127.0.0.1:$server_port"
data_dir = "$tmp/data"
token = "$token"
EOF
"$server_bin" --config "$tmp/server.toml" >"$tmp/server.log" 2>&1 &
server_pid=$!

wait_for() { # URL WHAT PID [curl args...]
    local url=$1 what=$2 pid=$3 code=none
    shift 3
    for _ in $(seq 1 150); do
        kill -0 "$pid" 2>/dev/null || fail "$what exited during start-up"
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$@" "$url" || true)
        [ "$code" = 200 ] && return 0
        sleep 0.1
    done
    fail "$what did not answer 200 on $url within 15 s (last: $code)"
}
wait_for "http://127.0.0.1:$server_port/health" vger-server "$server_pid"

# --- nginx ----------------------------------------------------------------
# The site file as shipped, with only its placeholders replaced. Each must
# be there exactly as documented, or the example and this test disagree.
sed_pattern() { printf '%s' "$1" | sed 's/[][\.*^$|/]/\\&/g'; }
sed_replacement() { printf '%s' "$1" | sed 's/[\&|]/\\&/g'; }
subst_args=()
placeholder() { # TEXT REPLACEMENT
    local n
    n=$(grep -cF -- "$1" "$site_src" || true)
    [ "$n" = 1 ] || fail "docs/deploy/nginx.conf: expected the placeholder '$1' once, found it $n times"
    subst_args+=(-e "s|$(sed_pattern "$1")|$(sed_replacement "$2")|")
}
placeholder 'listen 443 ssl;' "listen 127.0.0.1:$nginx_port ssl;"
placeholder 'server_name backup.example.com;' 'server_name localhost;'
placeholder 'ssl_certificate /etc/ssl/vger/fullchain.pem;' "ssl_certificate $tmp/cert.pem;"
placeholder 'ssl_certificate_key /etc/ssl/vger/privkey.pem;' "ssl_certificate_key $tmp/key.pem;"
placeholder 'server 127.0.0.1:8484;' "server 127.0.0.1:$server_port;"
sed "${subst_args[@]}" "$site_src" >"$tmp/nginx/site.conf"

# Temp paths in the scratch directory (the built-in ones are system paths),
# for the modules this nginx has.
nginx_build=$("$nginx_bin" -V 2>&1)
temp_paths="client_body_temp_path $tmp/nginx/client_body;
    proxy_temp_path $tmp/nginx/proxy;"
for m in fastcgi uwsgi scgi; do
    case $nginx_build in
    *"--without-http_${m}_module"*) ;;
    *) temp_paths+="
    ${m}_temp_path $tmp/nginx/$m;" ;;
    esac
done
user_line=
if [ "$(id -u)" = 0 ]; then
    # The built-in worker user may name a group this system lacks.
    user_line="user nobody $(id -gn nobody 2>/dev/null || echo nogroup);"
fi
cat >"$tmp/nginx/nginx-main.conf" <<EOF
$user_line
worker_processes 1;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events {
    worker_connections 256;
}
http {
    access_log $tmp/nginx/access.log;
    $temp_paths
    include $tmp/nginx/site.conf;
}
EOF
nginx_args=(-p "$tmp/nginx/" -c "$tmp/nginx/nginx-main.conf")
# -e keeps nginx away from the system error log before it reads the config.
if "$nginx_bin" -h 2>&1 | grep -q -- '-e filename'; then
    nginx_args+=(-e "$tmp/nginx/error.log")
fi
"$nginx_bin" "${nginx_args[@]}" -t >"$tmp/nginx/test.log" 2>&1 ||
    fail "nginx -t rejects the configuration: $(cat "$tmp/nginx/test.log")"
ok "nginx -t accepts docs/deploy/nginx.conf ($("$nginx_bin" -v 2>&1 | sed 's/.*version: //'))"
"$nginx_bin" "${nginx_args[@]}" -g 'daemon off;' >"$tmp/nginx/stderr.log" 2>&1 &
nginx_pid=$!

base=https://localhost:$nginx_port
curl_tls=(--cacert "$tmp/cert.pem" --resolve "localhost:$nginx_port:127.0.0.1")
wait_for "$base/health" nginx "$nginx_pid" "${curl_tls[@]}"

# --- Client helpers ---------------------------------------------------------
auth=(-H "Authorization: Bearer $token")
# req BODY_OUT METHOD PATH [curl args...]: prints the status (000 when the
# request failed; curl says why on stderr); the response headers are left
# in $tmp/headers.
req() {
    local out=$1 method=$2 path=$3
    shift 3
    local how=(-X "$method")
    [ "$method" = HEAD ] && how=(--head)
    printf '%s' "$out" >"$tmp/last_out"
    curl -sS "${curl_tls[@]}" --max-time 300 "${how[@]}" -o "$out" \
        -D "$tmp/headers" -w '%{http_code}' "$@" "$base$path" || true
}
header() { # NAME: its value in the last response
    { grep -i "^$1:" "$tmp/headers" || true; } | tail -n 1 | cut -d: -f2- |
        tr -d '\r' | sed 's/^ *//'
}
expect() { # WANT GOT WHAT: fails, quoting the answer's body if it is text
    [ "$2" = "$1" ] && return 0
    local out body=
    out=$(cat "$tmp/last_out" 2>/dev/null || true)
    if [ -s "$out" ] && [ "$(stat -c %s "$out")" -lt 65536 ] && grep -qI . "$out"; then
        body=": $(head -c 300 "$out")"
    fi
    fail "$3: expected HTTP $1, got $2$body"
}
blake2b256() { b2sum -l 256 "$1" | cut -c1-64; }
u32le() {
    local n=$1
    # shellcheck disable=SC2059
    printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' $((n & 255)) $((n >> 8 & 255)) \
        $((n >> 16 & 255)) $((n >> 24 & 255)))"
}

# --- The session ------------------------------------------------------------
code=$(req "$tmp/body" GET /health)
expect 200 "$code" "GET /health through the proxy"
grep -q '"status":"ok"' "$tmp/body" || fail "GET /health: unexpected body $(cat "$tmp/body")"
ok "GET /health through nginx over TLS: 200"

hsts=$(header Strict-Transport-Security)
[[ $hsts == max-age=* ]] || fail "no Strict-Transport-Security header (got '$hsts')"
ok "HSTS header set ($hsts)"

code=$(req "$tmp/body" GET / --tlsv1.2 --tls-max 1.2 "${auth[@]}")
expect 200 "$code" "GET / over TLS 1.2"
ok "TLS 1.2 client served"

code=$(req "$tmp/body" GET "/$repo?list")
expect 401 "$code" "GET without a token"
[[ $(header WWW-Authenticate) == Bearer* ]] || fail "401 without WWW-Authenticate: Bearer"
ok "no token: 401 with WWW-Authenticate: Bearer"

code=$(req "$tmp/body" GET / -H "Authorization: Bearer wrong-$token")
expect 401 "$code" "GET / with a wrong token"
ok "wrong token: 401"

code=$(req "$tmp/body" POST "/$repo?init" "${auth[@]}")
expect 201 "$code" "POST ?init"
ok "POST /$repo?init: 201"

head -c 517 /dev/urandom >"$tmp/config"
code=$(req "$tmp/body" PUT "/$repo/config" "${auth[@]}" -T "$tmp/config")
expect 201 "$code" "PUT config"
code=$(req "$tmp/got" GET "/$repo/config" "${auth[@]}")
expect 200 "$code" "GET config"
cmp -s "$tmp/config" "$tmp/got" || fail "GET config returned other bytes than were PUT"
ok "PUT config: 201, GET gives the same bytes"

# nginx must pass the path as the client sent it: the server decodes it.
code=$(req "$tmp/got" GET "/$repo/con%66ig" "${auth[@]}")
expect 200 "$code" "GET con%66ig"
cmp -s "$tmp/config" "$tmp/got" || fail "GET con%66ig returned other bytes"
code=$(req "$tmp/body" GET "/$repo/keys%2Frepokey" "${auth[@]}")
expect 400 "$code" "GET keys%2Frepokey (an encoded slash)"
ok "raw paths reach the server undecoded (con%66ig: 200, keys%2Frepokey: 400)"

# A valid pack (VGERPACK, version 1, then length-prefixed blobs) of 200 MiB,
# named by its BLAKE2b-256 as the server requires.
blob=$((50 * 1024 * 1024))
{
    printf 'VGERPACK\001'
    for _ in 1 2 3 4; do
        u32le "$blob"
        head -c "$blob" /dev/urandom
    done
} >"$tmp/pack"
size=$(stat -c %s "$tmp/pack")
hash=$(blake2b256 "$tmp/pack")
pack=packs/${hash:0:2}/$hash

t0=$(date +%s.%N)
code=$(req "$tmp/body" PUT "/$repo/$pack" "${auth[@]}" -T "$tmp/pack")
t1=$(date +%s.%N)
expect 201 "$code" "PUT of the 200 MiB pack"
ok "PUT $((size / 1048576)) MiB pack: 201 ($(awk -v a="$t0" -v b="$t1" -v s="$size" \
    'BEGIN { printf "%.1f s, %.0f MiB/s", b - a, s / 1048576 / (b - a) }'))"

stored=$tmp/data/$repo/$pack
[ -f "$stored" ] && cmp -s "$tmp/pack" "$stored" ||
    fail "the pack on the server's disk differs from the upload"
ok "pack stored intact on the server's disk"

code=$(req "$tmp/body" HEAD "/$repo/$pack" "${auth[@]}")
expect 200 "$code" "HEAD pack"
len=$(header Content-Length)
[ "$len" = "$size" ] || fail "HEAD pack: Content-Length $len, expected $size"
ok "HEAD pack: Content-Length $len"

t0=$(date +%s.%N)
code=$(req "$tmp/got" GET "/$repo/$pack" "${auth[@]}")
t1=$(date +%s.%N)
expect 200 "$code" "GET pack"
cmp -s "$tmp/pack" "$tmp/got" || fail "GET pack returned other bytes than were PUT"
ok "GET pack: same $((size / 1048576)) MiB back ($(awk -v a="$t0" -v b="$t1" -v s="$size" \
    'BEGIN { printf "%.1f s, %.0f MiB/s", b - a, s / 1048576 / (b - a) }'))"
rm -f "$tmp/got"

s=$((blob + 13 - 7)) e=$((2 * blob + 17 + 5))
code=$(req "$tmp/got" GET "/$repo/$pack" "${auth[@]}" -H "Range: bytes=$s-$e")
expect 206 "$code" "GET bytes=$s-$e"
[ "$(header Content-Range)" = "bytes $s-$e/$size" ] ||
    fail "Range $s-$e: Content-Range '$(header Content-Range)', expected 'bytes $s-$e/$size'"
dd if="$tmp/pack" of="$tmp/want" bs=1M skip="$s" count=$((e - s + 1)) \
    iflag=skip_bytes,count_bytes status=none
cmp -s "$tmp/want" "$tmp/got" || fail "Range $s-$e: wrong bytes"
ok "Range bytes=$s-$e: 206, Content-Range and $((e - s + 1)) bytes right"

code=$(req "$tmp/got" GET "/$repo/$pack" "${auth[@]}" -H "Range: bytes=-1000")
expect 206 "$code" "GET bytes=-1000"
tail -c 1000 "$tmp/pack" >"$tmp/want"
cmp -s "$tmp/want" "$tmp/got" || fail "Range -1000: wrong bytes"
[ "$(header Content-Range)" = "bytes $((size - 1000))-$((size - 1))/$size" ] ||
    fail "Range -1000: Content-Range '$(header Content-Range)'"
ok "Range bytes=-1000: 206, the last 1000 bytes"

code=$(req "$tmp/body" GET "/$repo/$pack" "${auth[@]}" -H "Range: bytes=$size-")
expect 416 "$code" "GET bytes=$size- (past the end)"
[ "$(header Content-Range)" = "bytes */$size" ] ||
    fail "416 without Content-Range 'bytes */$size' (got '$(header Content-Range)')"
ok "Range past the end: 416, Content-Range bytes */$size"

code=$(req "$tmp/body" GET "/$repo/packs/?list" "${auth[@]}")
expect 200 "$code" "GET packs/?list"
grep -qF "\"$pack\"" "$tmp/body" || fail "packs/?list lacks $pack: $(head -c 300 "$tmp/body")"
ok "GET packs/?list: lists the pack"

code=$(req "$tmp/body" GET "/$repo?stats" "${auth[@]}")
expect 200 "$code" "GET ?stats"
grep -Eq '"total_packs": ?1[,}]' "$tmp/body" || fail "?stats: expected total_packs 1: $(cat "$tmp/body")"
grep -Eq "\"total_bytes\": ?$((size + 517))[,}]" "$tmp/body" ||
    fail "?stats: expected total_bytes $((size + 517)): $(cat "$tmp/body")"
ok "GET ?stats: 1 pack, $((size + 517)) bytes"

head -c 4096 /dev/urandom >"$tmp/small"
bad=packs/00/$(printf '0%.0s' $(seq 1 64))
code=$(req "$tmp/body" PUT "/$repo/$bad" "${auth[@]}" -T "$tmp/small")
expect 409 "$code" "PUT of a pack under a wrong name"
ok "pack content not matching its name: 409"

code=$(req "$tmp/body" PUT "/$repo/snapshots/s1" "${auth[@]}" -T "$tmp/small" \
    -H "X-Content-BLAKE2b: $(printf 'a%.0s' $(seq 1 64))")
expect 409 "$code" "PUT with a wrong X-Content-BLAKE2b"
code=$(req "$tmp/body" PUT "/$repo/snapshots/s1" "${auth[@]}" -T "$tmp/small" \
    -H "X-Content-BLAKE2b: $(blake2b256 "$tmp/small")")
expect 201 "$code" "PUT with the right X-Content-BLAKE2b"
ok "X-Content-BLAKE2b reaches the server (wrong: 409, right: 201)"

code=$(req "$tmp/body" DELETE "/$repo/snapshots/s1" "${auth[@]}")
expect 204 "$code" "DELETE snapshots/s1"
code=$(req "$tmp/body" GET "/$repo/snapshots/s1" "${auth[@]}")
expect 404 "$code" "GET of the deleted snapshot"
ok "DELETE snapshots/s1: 204, then GET: 404"

code=$(req "$tmp/body" POST "/$repo/locks/repo-lock" "${auth[@]}" \
    -H 'Content-Type: application/json' --data '{"hostname":"nginx-test","pid":4242}')
expect 201 "$code" "POST locks/repo-lock"
code=$(req "$tmp/body" POST "/$repo/locks/repo-lock" "${auth[@]}" \
    -H 'Content-Type: application/json' --data '{"hostname":"other","pid":1}')
expect 409 "$code" "POST locks/repo-lock by another holder"
code=$(req "$tmp/body" GET "/$repo/locks" "${auth[@]}")
expect 200 "$code" "GET locks"
grep -q '"id":"repo-lock"' "$tmp/body" || fail "GET locks lacks repo-lock: $(cat "$tmp/body")"
code=$(req "$tmp/body" DELETE "/$repo/locks/repo-lock" "${auth[@]}")
expect 204 "$code" "DELETE locks/repo-lock"
ok "lock: taken (201), refused to another holder (409), listed, released (204)"

# A wrong token on an upload is refused and nothing is stored. The server
# reads (and discards) the refused body, so nginx, which streams it
# upstream, passes the 401 on instead of failing mid-body with a 502.
head -c $((8 << 20)) /dev/urandom >"$tmp/unauth"
unauth_hash=$(blake2b256 "$tmp/unauth")
unauth_key=packs/${unauth_hash:0:2}/$unauth_hash
for _ in 1 2 3; do
    code=$(req "$tmp/body" PUT "/$repo/$unauth_key" -H "Authorization: Bearer wrong" -T "$tmp/unauth")
    expect 401 "$code" "PUT of 8 MiB with a wrong token"
done
code=$(req "$tmp/body" HEAD "/$repo/$unauth_key" "${auth[@]}")
expect 404 "$code" "HEAD of the refused upload"
ok "PUT of 8 MiB with a wrong token: 401 three times, nothing stored"

# Uploads stream: a slow upload (2 MiB/s) shows up in the server's temp
# file long before the client has sent it all. With request buffering, nginx
# would pass it on only once the client had finished.
slow_size=$((6 * 1024 * 1024))
slow_secs=3
head -c "$slow_size" /dev/urandom >"$tmp/slow"
slow_hash=$(blake2b256 "$tmp/slow")
slow_key=packs/${slow_hash:0:2}/$slow_hash
slow_dir=$tmp/data/$repo/packs/${slow_hash:0:2}
t0=$(date +%s%N)
curl -sS "${curl_tls[@]}" --max-time 60 --limit-rate $((slow_size / slow_secs)) \
    -o /dev/null -w '%{http_code}' "${auth[@]}" -T "$tmp/slow" \
    "$base/$repo/$slow_key" >"$tmp/slow.code" &
slow_pid=$!
seen_ms='' seen_bytes=''
while [ -z "$seen_ms" ] && kill -0 "$slow_pid" 2>/dev/null; do
    partial=$(find "$slow_dir" -name '.vger-tmp-*' -size +0 -print -quit 2>/dev/null || true)
    if [ -n "$partial" ]; then
        seen_ms=$((($(date +%s%N) - t0) / 1000000))
        seen_bytes=$(stat -c %s "$partial" 2>/dev/null || echo "?")
    fi
    sleep 0.05
done
wait "$slow_pid" || fail "the slow upload failed"
expect 201 "$(cat "$tmp/slow.code")" "slow PUT"
cmp -s "$tmp/slow" "$tmp/data/$repo/$slow_key" || fail "the slow upload was stored wrongly"
[ -n "$seen_ms" ] ||
    fail "the server saw nothing of a ${slow_secs} s upload before it ended: nginx buffers request bodies"
[ "$seen_ms" -lt $((slow_secs * 1000 * 2 / 3)) ] ||
    fail "the server saw the first bytes of a ${slow_secs} s upload only after $seen_ms ms: nginx buffers request bodies"
ok "uploads stream: server held $seen_bytes bytes after $seen_ms ms of a $slow_secs s upload"

code=$(req "$tmp/body" DELETE "/$repo/$pack" "${auth[@]}")
expect 204 "$code" "DELETE pack"
code=$(req "$tmp/body" HEAD "/$repo/$pack" "${auth[@]}")
expect 404 "$code" "HEAD of the deleted pack"
code=$(req "$tmp/body" GET "/$repo/packs/?list" "${auth[@]}")
expect 200 "$code" "GET packs/?list after the delete"
! grep -qF "\"$pack\"" "$tmp/body" || fail "packs/?list still lists the deleted pack"
ok "DELETE pack: 204, then HEAD 404 and gone from ?list"

grep -q ' \[error\]\| \[crit\]\| \[alert\]\| \[emerg\]' "$tmp/nginx/error.log" 2>/dev/null &&
    fail "nginx logged errors: $(grep ' \[error\]\| \[crit\]\| \[alert\]\| \[emerg\]' "$tmp/nginx/error.log" | head -n 5)"
ok "nginx error log has no errors"

echo "took $((SECONDS - started)) s"
echo "nginx proxy test: $checks checks passed"
