#!/usr/bin/env bash
# deploy/check.sh (`make deploy-check`): the production deployment of docs/deployment.md,
# run locally and checked end to end, on loopback only.
#
# A fresh PostgreSQL database with an owner role and an app role -> migrate, collectstatic,
# check --deploy (DEBUG off, secrets from *_FILE) -> gunicorn with the command line of
# deploy/systemd/prpclinic.service, the worker of prpclinic-worker.service, nginx with
# deploy/nginx/prpclinic.conf and a self-signed certificate -> curl through nginx: redirect
# to HTTPS, HSTS, static files from nginx, sign-in, a patient's chart, a visit refused until
# the nurse screens the patient and takes the consent on the tablet (the app renders and stores
# the signed PDF, served no-store), then started; 413 on oversized bodies, no /media/; no
# patient name in any log; an e-mail sent by the worker; the audit trail verifies and the
# app's role cannot tamper with it. Everything is removed again on exit. docs/deployment.md.
#
# Needs: root on Debian 12 (installs nginx, openssl and curl when missing), the venv
# (.venv, made by `make`), PostgreSQL reachable at $DEPLOY_CHECK_PG_URL as a superuser.
# Environment: DEPLOY_CHECK_PG_URL (a superuser, default postgres://postgres@127.0.0.1:5432),
# VENV_BIN (default .venv/bin), DEPLOY_CHECK_KEEP=1 keeps the work directory for a look.
set -Eeuo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEPLOY=$ROOT/deploy
VENV_BIN=${VENV_BIN:-$ROOT/.venv/bin}
PG_URL=${DEPLOY_CHECK_PG_URL:-postgres://postgres@127.0.0.1:5432}
# Only the server part counts: a database name in the URL (…:5432/test) is ignored.
PG_SERVER=${PG_URL#*://}
PG_SERVER=${PG_SERVER%%/*}
PG_URL=postgres://$PG_SERVER
START=$(date +%s)

PASSED=0
FAILURES=()
COMPLETED=0
WORK=""
DB_NAME=""
PIDS=()

say() { printf '%s\n' "$*"; }
section() { printf '\n== %s  [%ss]\n' "$*" "$(($(date +%s) - START))"; }
ok() { PASSED=$((PASSED + 1)); printf '  ok    %s\n' "$1"; }
bad() { FAILURES+=("$1${2:+ ($2)}"); printf '  FAIL  %s%s\n' "$1" "${2:+ ($2)}"; }
# A step everything after depends on: stop at the first failure.
die() { bad "$1" "${2:-}"; exit 1; }
# expect NAME COMMAND...: one line of the report, the run goes on either way.
expect() {
  local name=$1
  shift
  if "$@"; then ok "$name"; else bad "$name"; fi
}

# ---------------------------------------------------------------------------- clean-up
# SIGTERM to all (graceful, as systemd stops them), SIGKILL to whatever is left after 10 s.
stop_all() {
  local pid left
  [ ${#PIDS[@]} -gt 0 ] || return 0
  kill -TERM "${PIDS[@]}" 2>/dev/null
  for _ in $(seq 1 100); do
    left=0
    for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && left=1; done
    [ "$left" = 1 ] || break
    sleep 0.1
  done
  kill -KILL "${PIDS[@]}" 2>/dev/null
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
}

show_logs() {
  local f
  [ -n "$WORK" ] && [ -d "$WORK/log" ] || return 0
  for f in "$WORK"/log/*; do
    [ -s "$f" ] || continue
    printf '\n--- last lines of %s\n' "${f##*/}"
    tail -n 25 "$f"
  done
}

finish() {
  local rc=$? f
  set +e
  trap - EXIT INT TERM ERR
  if [ "$COMPLETED" -ne 1 ] && [ ${#FAILURES[@]} -eq 0 ]; then bad "check stopped early" "exit status $rc"; fi
  [ ${#FAILURES[@]} -eq 0 ] || show_logs
  stop_all
  if [ -n "$DB_NAME" ]; then
    psql -X -q -d "$PG_URL/postgres" -v ON_ERROR_STOP=1 \
      -c "DROP DATABASE IF EXISTS \"$DB_NAME\" WITH (FORCE)" -c "DROP ROLE IF EXISTS \"${DB_NAME}_app\"" \
      -c "DROP ROLE IF EXISTS \"${DB_NAME}_owner\"" >/dev/null 2>&1 ||
      say "warning: could not drop database/role $DB_NAME"
  fi
  if [ -n "$WORK" ]; then
    if [ "${DEPLOY_CHECK_KEEP:-0}" = 1 ]; then say "kept $WORK"; else rm -rf "$WORK"; fi
  fi
  printf '\n'
  if [ ${#FAILURES[@]} -eq 0 ] && [ "$COMPLETED" -eq 1 ]; then
    say "deploy-check PASS: $PASSED checks in $(($(date +%s) - START)) s"
    exit 0
  fi
  say "deploy-check FAIL: ${#FAILURES[@]} failed, $PASSED passed, in $(($(date +%s) - START)) s"
  for f in "${FAILURES[@]}"; do say "  - $f"; done
  exit 1
}
trap finish EXIT
trap 'exit 130' INT TERM
trap 'say "  error: line $LINENO: $BASH_COMMAND"' ERR

# ---------------------------------------------------------------------------- work directory
WORK=$(mktemp -d /tmp/prpclinic-deploy-check.XXXXXX)
# nginx's workers (www-data when started by root) must reach $WORK/static.
chmod 0755 "$WORK"
mkdir -p "$WORK"/{log,http,nginx/tmp,static,media,units}
install -d -m 0700 "$WORK/secrets" "$WORK/tls"

# ---------------------------------------------------------------------------- tools
section "tools"
missing=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v psql >/dev/null 2>&1 || missing+=(postgresql-client)
command -v envsubst >/dev/null 2>&1 || missing+=(gettext-base)
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || die "missing ${missing[*]}; run as root to install them"
  say "  installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >"$WORK/log/apt.log" 2>&1 || true
  # nginx's postinst may fail to start the distribution's default site (port 80 taken, no
  # init system); the binary is all the check needs, so judge by what is there afterwards.
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >>"$WORK/log/apt.log" 2>&1 || true
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || die "nginx is not installed"
for tool in openssl curl psql envsubst; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed"
done
{ [ -x "$VENV_BIN/prpclinic" ] && [ -x "$VENV_BIN/gunicorn" ]; } ||
  die "no prpclinic/gunicorn in $VENV_BIN" "run \`make deploy-check\`, which installs the venv"
ok "nginx $("$NGINX" -v 2>&1 | sed 's#.*/##'), $(openssl version | cut -d' ' -f1-2), venv $VENV_BIN"

# Free loopback ports: app, HTTP, HTTPS, SMTP sink.
read -r APP_PORT HTTP_PORT HTTPS_PORT SMTP_PORT < <("$VENV_BIN/python" - <<'PY'
import socket
socks = [socket.socket() for _ in range(4)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*(s.getsockname()[1] for s in socks))
for s in socks:
    s.close()
PY
)
BASE=https://127.0.0.1:$HTTPS_PORT
say "  work directory $WORK; app :$APP_PORT, nginx :$HTTP_PORT (http) :$HTTPS_PORT (https)"

# ---------------------------------------------------------------------------- units and config
section "unit files and nginx configuration"
unit_cmd() { # the ExecStart of a unit, with the check's venv and port
  sed -n 's/^ExecStart=//p' "$DEPLOY/systemd/$1" |
    sed -e "s#/opt/prpclinic/venv/bin/#$VENV_BIN/#g" -e "s#127\.0\.0\.1:8000#127.0.0.1:$APP_PORT#g" \
      -e "s#/etc/prpclinic/gunicorn\.conf\.py#$DEPLOY/gunicorn.conf.py#g"
}
read -r -a GUNICORN_CMD <<<"$(unit_cmd prpclinic.service)"
read -r -a WORKER_CMD <<<"$(unit_cmd prpclinic-worker.service)"
{ [ ${#GUNICORN_CMD[@]} -gt 2 ] && [ ${#WORKER_CMD[@]} -gt 1 ]; } || die "ExecStart= lines found in deploy/systemd/"
ok "ExecStart of both units: ${GUNICORN_CMD[*]#"$VENV_BIN"/} | ${WORKER_CMD[*]#"$VENV_BIN"/}"
if command -v systemd-analyze >/dev/null 2>&1; then
  for unit in prpclinic.service prpclinic-worker.service; do
    sed "s#/opt/prpclinic/venv/bin/#$VENV_BIN/#g" "$DEPLOY/systemd/$unit" >"$WORK/units/$unit"
  done
  expect "systemd-analyze verify (both units)" \
    systemd-analyze verify "$WORK/units/prpclinic.service" "$WORK/units/prpclinic-worker.service"
else
  say "  skip  systemd-analyze verify (systemd-analyze not installed)"
fi

# Self-signed certificate for 127.0.0.1 and localhost.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj "/CN=localhost" -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
  -keyout "$WORK/tls/key.pem" -out "$WORK/tls/cert.pem" 2>"$WORK/log/openssl.log" ||
  die "self-signed certificate"
CERT=$WORK/tls/cert.pem

export PRPCLINIC_SERVER_NAME="127.0.0.1 localhost"
export PRPCLINIC_ORIGIN=$BASE
export PRPCLINIC_LISTEN_HTTP=127.0.0.1:$HTTP_PORT
export PRPCLINIC_LISTEN_HTTPS=127.0.0.1:$HTTPS_PORT
export PRPCLINIC_TLS_CERT=$CERT
export PRPCLINIC_TLS_KEY=$WORK/tls/key.pem
export PRPCLINIC_UPSTREAM=127.0.0.1:$APP_PORT
export PRPCLINIC_STATIC_ROOT=$WORK/static
export PRPCLINIC_LOG_DIR=$WORK/log
# shellcheck disable=SC2016  # the names are for envsubst, not for the shell
envsubst '${PRPCLINIC_SERVER_NAME} ${PRPCLINIC_ORIGIN} ${PRPCLINIC_LISTEN_HTTP} ${PRPCLINIC_LISTEN_HTTPS} ${PRPCLINIC_TLS_CERT} ${PRPCLINIC_TLS_KEY} ${PRPCLINIC_UPSTREAM} ${PRPCLINIC_STATIC_ROOT} ${PRPCLINIC_LOG_DIR}' \
  <"$DEPLOY/nginx/prpclinic.conf" >"$WORK/nginx/prpclinic.conf"
! grep -v '^[[:space:]]*#' "$WORK/nginx/prpclinic.conf" | grep -q 'PRPCLINIC_' || die "every placeholder of the nginx template rendered"

# The main configuration stands in for Debian's /etc/nginx/nginx.conf: everything in $WORK.
{
  [ "$(id -u)" = 0 ] && echo "user www-data;"
  cat <<EOF
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/log/nginx-error.log warn;
events { worker_connections 256; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
    client_body_temp_path $WORK/nginx/tmp/body;
    proxy_temp_path $WORK/nginx/tmp/proxy;
    fastcgi_temp_path $WORK/nginx/tmp/fastcgi;
    uwsgi_temp_path $WORK/nginx/tmp/uwsgi;
    scgi_temp_path $WORK/nginx/tmp/scgi;
    include $WORK/nginx/prpclinic.conf;
}
EOF
} >"$WORK/nginx/nginx.conf"
NGINX_ARGS=(-p "$WORK/nginx" -e "$WORK/log/nginx-error.log" -c "$WORK/nginx/nginx.conf")
expect "nginx -t accepts the rendered template" "$NGINX" -t -q "${NGINX_ARGS[@]}"

# ---------------------------------------------------------------------------- database, secrets, settings
section "database, secrets, production settings"
command -v pg_isready >/dev/null 2>&1 && { pg_isready -q -d "$PG_URL/postgres" || die "PostgreSQL answers at $PG_URL" "start it first"; }
DB_NAME=prpclinic_check_$(date +%s)_$$
# Two roles, as docs/deployment.md sets them up: the owner of the database and its tables,
# which runs migrations (prpclinic-admin), and the app's role with row privileges only, so
# that the app can neither TRUNCATE the audit trail nor drop its triggers. Neither is a
# superuser. Passwords, so that the check works whether the server trusts loopback or not.
OWNER_ROLE=${DB_NAME}_owner
APP_ROLE=${DB_NAME}_app
OWNER_PASSWORD=$(openssl rand -hex 16)
APP_PASSWORD=$(openssl rand -hex 16)
DB_HOSTPORT=${PG_SERVER#*@}
OWNER_URL=postgres://$OWNER_ROLE:$OWNER_PASSWORD@$DB_HOSTPORT/$DB_NAME
APP_URL=postgres://$APP_ROLE:$APP_PASSWORD@$DB_HOSTPORT/$DB_NAME
{
  psql -X -q -d "$PG_URL/postgres" -v ON_ERROR_STOP=1 \
    -c "CREATE ROLE \"$OWNER_ROLE\" LOGIN PASSWORD '$OWNER_PASSWORD'" \
    -c "CREATE ROLE \"$APP_ROLE\" LOGIN PASSWORD '$APP_PASSWORD'" \
    -c "CREATE DATABASE \"$DB_NAME\" OWNER \"$OWNER_ROLE\""
  psql -X -q -d "$PG_URL/$DB_NAME" -v ON_ERROR_STOP=1 -f "$DEPLOY/lib/app_role_grants.sql" \
    -v owner="$OWNER_ROLE" -v app="$APP_ROLE"
} >"$WORK/log/psql.log" 2>&1 || die "create database $DB_NAME and its two roles" "see log/psql.log"
ok "database $DB_NAME, owner role and app role (row privileges only; no superuser)"

openssl rand -hex 32 >"$WORK/secrets/secret_key"
openssl rand -hex 32 >"$WORK/secrets/audit_hmac_key"
# prpclinic-admin connects as the owner when this file exists.
printf '%s\n' "$OWNER_URL" >"$WORK/secrets/admin_database_url"
chmod 0600 "$WORK/secrets/"*

# The check's /etc/prpclinic/env (see deploy/env.example). DEBUG is not set anywhere.
cat >"$WORK/env" <<EOF
DATABASE_URL=$APP_URL
ALLOWED_HOSTS=127.0.0.1,localhost
CSRF_TRUSTED_ORIGINS=$BASE,https://localhost:$HTTPS_PORT
EMAIL_URL=smtp://127.0.0.1:$SMTP_PORT
DEFAULT_FROM_EMAIL=noreply@deploy-check.invalid
STATIC_ROOT=$WORK/static
MEDIA_ROOT=$WORK/media
LOG_LEVEL=INFO
EOF

# One-off commands go through deploy/prpclinic-admin, as docs/deployment.md tells operators.
ADMIN=(env "PRPCLINIC_ENV_FILE=$WORK/env" "PRPCLINIC_SECRETS_DIR=$WORK/secrets" "PRPCLINIC_USER=$(id -un)"
  "PRPCLINIC_BIN=$VENV_BIN" "$DEPLOY/prpclinic-admin")
admin() { "${ADMIN[@]}" "$@"; }
# The long-running processes get the same clean environment as under systemd.
APP_ENV=(PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 "HOME=$WORK" PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
  "SECRET_KEY_FILE=$WORK/secrets/secret_key" "AUDIT_HMAC_KEY_FILE=$WORK/secrets/audit_hmac_key")
while IFS= read -r line; do APP_ENV+=("$line"); done <"$WORK/env"

# collectstatic is the slow step (WhiteNoise compresses every file, gzip and brotli): it runs
# beside migrate, check --deploy and the seed data, which do not need it; gunicorn waits.
"${ADMIN[@]}" collectstatic --noinput >"$WORK/log/collectstatic.log" 2>&1 &
COLLECTSTATIC_PID=$!
PIDS+=("$COLLECTSTATIC_PID")
admin migrate --noinput >"$WORK/log/migrate.log" 2>&1 || die "prpclinic migrate as the owner role" "see log/migrate.log"
ok "prpclinic migrate as the owner role (PostgreSQL, DEBUG off, secrets from files)"
if admin check --deploy --fail-level WARNING >"$WORK/log/check-deploy.log" 2>&1; then
  ok "prpclinic check --deploy --fail-level WARNING: $(tail -n 1 "$WORK/log/check-deploy.log")"
else
  cat "$WORK/log/check-deploy.log"
  die "prpclinic check --deploy --fail-level WARNING"
fi
seed_code=$(cat "$DEPLOY/lib/seed_check_data.py")
# Its output holds the nurse's password: kept out of log/, which is printed on failure.
admin shell -c "$seed_code" >"$WORK/secrets/seed.out" 2>&1 || die "create clinic, nurse and patient"
value_of() { sed -n "s/^$1=//p" "$WORK/secrets/seed.out" | tail -n 1; }
NURSE_EMAIL=$(value_of NURSE_EMAIL)
NURSE_PASSWORD=$(value_of NURSE_PASSWORD)
PATIENT_ID=$(value_of PATIENT_ID)
PATIENT_NAME=$(value_of PATIENT_NAME)
TREATMENT=$(value_of TREATMENT)
SCREENING_FORM=$(value_of SCREENING_FORM)
SIGNATURE=$(value_of SIGNATURE)
{ [ -n "$NURSE_PASSWORD" ] && [ -n "$PATIENT_ID" ] && [ -n "$SCREENING_FORM" ] && [ -n "$SIGNATURE" ]; } ||
  die "seed data printed"
ok "clinic, nurse $NURSE_EMAIL, patient $PATIENT_ID ($PATIENT_NAME)"
wait "$COLLECTSTATIC_PID" || die "prpclinic collectstatic" "see log/collectstatic.log"
PIDS=() # collectstatic is done; its PID must not be signalled later
[ -s "$WORK/static/staticfiles.json" ] || die "collectstatic wrote the manifest of hashed names"
chmod -R a+rX "$WORK/static"
ok "prpclinic collectstatic: $(find "$WORK/static" -type f | wc -l) files"

# ---------------------------------------------------------------------------- processes
section "processes: SMTP sink, gunicorn, worker, nginx"
start() { # start NAME COMMAND...: in the background, output to log/NAME.log
  local name=$1
  shift
  "$@" >"$WORK/log/$name.log" 2>&1 &
  PIDS+=("$!")
}
wait_for() { # wait_for SECONDS COMMAND...
  local deadline=$(($(date +%s) + $1))
  shift
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}
alive() { kill -0 "$1" 2>/dev/null; }

start smtp-sink "$VENV_BIN/python" "$DEPLOY/lib/smtp_sink.py" "$SMTP_PORT" "$WORK/mailbox"
start gunicorn env -i "${APP_ENV[@]}" "${GUNICORN_CMD[@]}"
GUNICORN_PID=${PIDS[-1]}
start worker env -i "${APP_ENV[@]}" "${WORKER_CMD[@]}"
WORKER_PID=${PIDS[-1]}
start nginx "$NGINX" "${NGINX_ARGS[@]}" -g "daemon off;"
NGINX_PID=${PIDS[-1]}

wait_for 60 curl -fsS "http://127.0.0.1:$APP_PORT/healthz" || die "gunicorn answers /healthz" "see log/gunicorn.log"
ok "gunicorn up (unit's command line, $(grep -c 'Booting worker' "$WORK/log/gunicorn.log") workers)"
wait_for 15 curl -fsS --cacert "$CERT" "$BASE/healthz" || die "nginx proxies HTTPS to gunicorn" "see log/nginx-error.log"
ok "nginx up (TLS on 127.0.0.1:$HTTPS_PORT)"

# ---------------------------------------------------------------------------- through nginx
section "HTTP through nginx"
JAR=$WORK/http/cookies
# fetch NAME URL [CURL ARGS...]: headers to http/NAME.h, body to http/NAME.b, prints the status.
fetch() {
  local name=$1 url=$2
  shift 2
  curl -sS --cacert "$CERT" -b "$JAR" -c "$JAR" -D "$WORK/http/$name.h" -o "$WORK/http/$name.b" \
    -w '%{http_code}' "$@" "$url" 2>>"$WORK/log/curl.log" || true
}
# header NAME FIELD: the values of one response header (all of them, one a line).
header() { tr -d '\r' <"$WORK/http/$1.h" | sed -n "s/^$2: *//Ip"; }
count_header() { header "$1" "$2" | grep -c . || true; }
body_has() { grep -qF -- "$2" "$WORK/http/$1.b"; }
body_lacks() { ! grep -qF -- "$2" "$WORK/http/$1.b"; }
is() { [ "$1" = "$2" ] || { say "        got \"$1\", wanted \"$2\""; return 1; }; }
has() { case $1 in *"$2"*) return 0 ;; esac; say "        \"$1\" lacks \"$2\""; return 1; }

status=$(fetch redirect "http://127.0.0.1:$HTTP_PORT/patients/?q=x")
expect "plain HTTP answers 301" is "$status" 301
expect "... to the same path on HTTPS" is "$(header redirect Location)" "$BASE/patients/?q=x"

status=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$CERT" --tlsv1.2 --tls-max 1.2 "$BASE/healthz" || true)
expect "TLS 1.2 accepted" is "$status" 200
status=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$CERT" --tlsv1.3 "$BASE/healthz" || true)
expect "TLS 1.3 accepted" is "$status" 200

status=$(fetch login "$BASE/account/login/")
expect "login page: 200" is "$status" 200
expect "login page: one HSTS header, one year, subdomains" \
  is "$(count_header login Strict-Transport-Security):$(header login Strict-Transport-Security)" \
  "1:max-age=31536000; includeSubDomains; preload"
expect "login page: one X-Content-Type-Options: nosniff" is "$(header login X-Content-Type-Options | tr '\n' ' ')" "nosniff "
expect "login page: the app's Content-Security-Policy, once" is "$(count_header login Content-Security-Policy)" 1
expect "login page: X-Frame-Options DENY" is "$(header login X-Frame-Options)" DENY
request_id=$(header login X-Request-ID)
expect "login page: one X-Request-ID" is "$(count_header login X-Request-ID)" 1
expect "... the ID nginx gave the app (in the app's log)" grep -qF "\"request_id\":\"${request_id:-none}\"" "$WORK/log/gunicorn.log"
expect "login page: Server header without version" is "$(header login Server)" nginx
expect "login page: CSRF cookie is Secure" has "$(header login Set-Cookie | grep '^csrftoken=' || true)" "Secure"

css=$(grep -o 'href="/static/css/[^"]*"' "$WORK/http/login.b" | head -n 1 | cut -d'"' -f2)
expect "login page links a hashed stylesheet" test -n "$css"
status=$(fetch static "$BASE${css:-/static/missing}" -H "Accept-Encoding: gzip")
expect "static file: 200" is "$status" 200
expect "static file: nginx's Cache-Control (1 year, immutable)" \
  is "$(header static Cache-Control)" "public, max-age=31536000, immutable"
expect "static file: HSTS set by nginx" is "$(count_header static Strict-Transport-Security)" 1
expect "static file: WhiteNoise's .gz served by gzip_static" is "$(header static Content-Encoding)" gzip
not_in_app_log() { ! grep -qF -- "$1" "$WORK/log/gunicorn.log"; }
expect "static file: never reached gunicorn" not_in_app_log "${css:-/static/}"
status=$(fetch static404 "$BASE/static/no-such-file.css")
expect "missing static file: 404" is "$status" 404
expect "... from nginx, not the app" not_in_app_log "/static/no-such-file.css"

status=$(fetch debug404 "$BASE/no-such-page/")
expect "unknown page: 404" is "$status" 404
expect "... without Django's debug page (DEBUG off)" body_lacks debug404 "URLconf"
status=$(fetch badhost "$BASE/account/login/" -H "Host: evil.example")
expect "foreign Host header: 400 (ALLOWED_HOSTS)" is "$status" 400

# Sign in as the nurse: CSRF token from the form, Referer as a browser sends it over HTTPS.
token=$(grep -o 'name="csrfmiddlewaretoken" value="[^"]*"' "$WORK/http/login.b" | head -n 1 | cut -d'"' -f4)
status=$(fetch signin "$BASE/account/login/" -H "Referer: $BASE/account/login/" -H "Origin: $BASE" \
  --data-urlencode "csrfmiddlewaretoken=$token" --data-urlencode "username=$NURSE_EMAIL" \
  --data-urlencode "password=$NURSE_PASSWORD" --data-urlencode "next=")
expect "sign in (POST with CSRF token): 302" is "$status" 302
expect "... to the home page" is "$(header signin Location)" "/"
session_cookie=$(header signin Set-Cookie | grep '^sessionid=' || true)
expect "session cookie: Secure" has "$session_cookie" "Secure"
expect "session cookie: HttpOnly" has "$session_cookie" "HttpOnly"

status=$(fetch chart "$BASE/patients/$PATIENT_ID/")
expect "patient chart: 200" is "$status" 200
expect "patient chart: shows $PATIENT_NAME" body_has chart "$PATIENT_NAME"
expect "patient chart: Cache-Control no-store" has "$(header chart Cache-Control)" "no-store"
expect "patient chart: one HSTS header" is "$(count_header chart Strict-Transport-Security)" 1

# Search as the page does it: POST with the CSRF token in a header (htmx).
csrf=$(awk '$6 == "csrftoken" { print $7 }' "$JAR" | tail -n 1)
status=$(fetch search "$BASE/patients/search/" -H "X-CSRFToken: $csrf" -H "HX-Request: true" \
  -H "Referer: $BASE/patients/" --data-urlencode "q=${PATIENT_NAME##* }")
expect "patient search (POST, CSRF header): 200" is "$status" 200
expect "... finds $PATIENT_NAME" body_has search "${PATIENT_NAME##* }"

# Before a visit (issue #4): refused until the nurse screens the patient and takes the consent
# on the tablet, both page POSTs as a browser sends them. Signing renders the PDF (WeasyPrint,
# in gunicorn's clean environment) and stores it under MEDIA_ROOT; the app serves it.
post() { # post NAME PATH [CURL ARGS...]: a form POST to PATH, with the CSRF token, as from that page
  local name=$1 path=$2
  shift 2
  fetch "$name" "$BASE$path" -H "Referer: $BASE$path" -H "Origin: $BASE" --data-urlencode "csrfmiddlewaretoken=$csrf" "$@"
}
# A redirect's path with its trailing id as N (/visits/12/ -> /visits/N/), to compare.
id_as_n() { sed 's#/[0-9][0-9]*/$#/N/#' <<<"$1"; }
status=$(post refused "/visits/start/$PATIENT_ID/" --data-urlencode "treatment=$TREATMENT")
expect "visit start before screening and consent: refused, back to the chart" \
  is "$status $(header refused Location)" "302 /patients/$PATIENT_ID/"
screen_path=/screening/patient/$PATIENT_ID/new/$TREATMENT/
status=$(fetch screenpage "$BASE$screen_path")
expect "screening form: 200" is "$status" 200
status=$(post screen "$screen_path" --data "$SCREENING_FORM")
screening_path=$(header screen Location)
expect "screening (POST): 302 to its result" is "$status $(id_as_n "$screening_path")" "302 /screening/N/"
status=$(fetch screened "$BASE$screening_path")
expect "... the result: 200, eligible" is "$status $(grep -qF Eligible "$WORK/http/screened.b" && echo eligible)" \
  "200 eligible"
sign_path=/consents/patients/$PATIENT_ID/sign/$TREATMENT/
status=$(fetch signpage "$BASE$sign_path")
template_id=$(grep -o 'name="template_id" value="[0-9]*"' "$WORK/http/signpage.b" | head -n 1 | cut -d'"' -f4)
expect "consent tablet page: 200, with the form's version" is "$status ${template_id:+found}" "200 found"
status=$(post sign "$sign_path" --data-urlencode "template_id=$template_id" --data-urlencode "signer_relationship=patient" \
  --data-urlencode "signer_name=$PATIENT_NAME" --data-urlencode "signature=$SIGNATURE")
consent_path=$(header sign Location)
expect "consent signed on the tablet (POST, drawn PNG signature): 302 to the record" \
  is "$status $(id_as_n "$consent_path")" "302 /consents/N/"
status=$(fetch consentpdf "$BASE${consent_path}pdf/")
expect "signed consent PDF (rendered in gunicorn): 200, a PDF" is "$status $(head -c 4 "$WORK/http/consentpdf.b")" "200 %PDF"
expect "... Cache-Control no-store" has "$(header consentpdf Cache-Control)" "no-store"
expect "... stored once under MEDIA_ROOT" is "$(find "$WORK/media/consents" -type f -name '*.pdf' 2>/dev/null | wc -l)" 1
consent_file=$(find "$WORK/media/consents" -type f -name '*.pdf' 2>/dev/null | head -n 1)
status=$(fetch consentmedia "$BASE/media/${consent_file#"$WORK/media/"}")
expect "... never served by nginx at /media/ (its name known): $status" test "$status" != 200
status=$(post visit "/visits/start/$PATIENT_ID/" --data-urlencode "treatment=$TREATMENT")
visit_path=$(header visit Location)
expect "visit start after screening and consent: 302 to the visit" is "$status $(id_as_n "$visit_path")" "302 /visits/N/"
status=$(fetch visitpage "$BASE$visit_path")
expect "... the visit page: 200" is "$status" 200

head -c 21M /dev/zero >"$WORK/http/big.bin"
status=$(fetch toolarge "$BASE/account/login/" -H "Referer: $BASE/account/login/" \
  -H "Content-Type: application/octet-stream" --data-binary "@$WORK/http/big.bin")
expect "21 MB request body: 413 from nginx (client_max_body_size 20m)" is "$status" 413
rm -f "$WORK/http/big.bin"

secret_marker="uploaded-file-$(openssl rand -hex 8)"
mkdir -p "$WORK/media/uploads"
echo "$secret_marker" >"$WORK/media/uploads/scan.txt"
status=$(fetch media "$BASE/media/uploads/scan.txt")
expect "/media/ is not served: $status" test "$status" != 200
expect "... and the uploaded file's content never shows" body_lacks media "$secret_marker"

# docs/operations-logs.md: logs carry ids, never people. nginx's log, the app's, the worker's.
# JSON logs escape non-ASCII (\u00d6), so look for the ASCII part of the family name.
family_ascii=${PATIENT_NAME##* }
family_ascii=${family_ascii%%-*}
no_person_in_logs() { ! grep -rqF -e "$family_ascii" -e "$NURSE_EMAIL" "$WORK/log/"; }
expect "no patient name or staff e-mail in any log (nginx, app, worker)" no_person_in_logs

# ---------------------------------------------------------------------------- worker and audit
section "background worker and audit trail"
subject="deploy-check $(openssl rand -hex 6)"
admin shell -c "from prpclinic.clinics.tasks import send_email
r = send_email.enqueue(subject='$subject', body='Sent by prpclinic-worker.', to=['nurse@deploy-check.invalid'])
print('TASK', r.id)" >"$WORK/log/enqueue.log" 2>&1 || bad "enqueue an e-mail task"
if wait_for 30 grep -qF "Subject: $subject" "$WORK/mailbox"; then
  ok "worker sent the queued e-mail through SMTP"
else
  bad "worker sent the queued e-mail through SMTP" "nothing arrived within 30 s"
fi
expect "worker still running" alive "$WORKER_PID"
expect "gunicorn still running" alive "$GUNICORN_PID"
expect "nginx still running" alive "$NGINX_PID"

if admin verify_audit >"$WORK/log/verify-audit.log" 2>&1; then
  ok "audit trail verifies with the key from AUDIT_HMAC_KEY_FILE: $(tail -n 1 "$WORK/log/verify-audit.log")"
else
  bad "prpclinic verify_audit" "see log/verify-audit.log"
fi

# The app's role cannot empty or change the audit trail (README: "Running in production").
app_sql() { psql -X -q -t -A -d "$APP_URL" -v ON_ERROR_STOP=1 -c "$1" 2>&1; }
refused() { # refused SQL MESSAGE: the statement fails, and for the expected reason
  local out
  if out=$(app_sql "$1"); then say "        accepted: $1"; return 1; fi
  has "$out" "$2"
}
expect "app role reads the audit trail" test "$(app_sql 'SELECT count(*) > 0 FROM audit_auditevent')" = t
expect "app role: TRUNCATE of the audit trail refused" \
  refused "TRUNCATE audit_auditevent CASCADE" "permission denied"
expect "app role: UPDATE of an audit event refused" \
  refused "UPDATE audit_auditevent SET action = action" "append-only"
expect "app role: DROP TRIGGER on the audit trail refused" \
  refused "DROP TRIGGER audit_auditevent_no_update_delete ON audit_auditevent" "must be owner"
# Not a check (docs/deployment.md, "Known limits"): the address the audit trail records.
say "  note  audit source address of the sign-in: $(app_sql "SELECT coalesce(host(source_ip), '-') FROM audit_auditevent WHERE action LIKE 'login%' ORDER BY id LIMIT 1" | head -n 1)"

COMPLETED=1
