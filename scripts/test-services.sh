#!/usr/bin/env bash
# Ensures MariaDB (or MySQL), Redis, etcd and RabbitMQ are installed and running on
# loopback for the integration and end-to-end suites, and that Chromium is
# installed for the dashboard's browser tests, then writes the
# connection settings to "$STATE_DIR/env" as shell `export` lines.
#
# Idempotent: a service whose port already answers is left alone, a package
# whose binary exists is not installed. Works as root or through sudo, and on
# machines without systemd (daemons are started directly).
#
#   GOCRON_TEST_STATE      state dir (env file, logs, etcd data);
#                          default /tmp/gocron-test-services
#   GOCRON_TEST_WAIT_SECS  how long to wait for each service; default 60
#   GOCRON_TEST_NO_BROWSER 1: skip Chromium (the benchmarks need no browser)
set -euo pipefail

STATE_DIR="${GOCRON_TEST_STATE:-/tmp/gocron-test-services}"
WAIT_SECS="${GOCRON_TEST_WAIT_SECS:-60}"
HOST=127.0.0.1
MYSQL_PORT=3306
REDIS_PORT=6379
ETCD_PORT=2379
ETCD_PEER_PORT=2380
AMQP_PORT=5672
TEST_USER=gocron_test
TEST_PASSWORD=gocron_test

say() { printf '%s\n' "$*"; }
die() { printf 'test-services: ERROR: %s\n' "$*" >&2; exit 1; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "not root and sudo is missing; cannot run: $*"
  fi
}

# First executable found among the arguments (names on PATH or absolute paths).
find_bin() {
  local c
  for c in "$@"; do
    if [[ $c == /* ]]; then
      [ -x "$c" ] && { printf '%s\n' "$c"; return 0; }
    elif command -v "$c" >/dev/null 2>&1; then
      command -v "$c"
      return 0
    fi
  done
  return 1
}

port_open() {
  timeout 3 bash -c "exec 3<>/dev/tcp/$HOST/$1" >/dev/null 2>&1
}

# wait_until SECONDS WHAT CMD...: polls CMD every 0.5 s.
wait_until() {
  local secs=$1 what=$2
  shift 2
  local deadline=$((SECONDS + secs))
  until "$@"; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      return 1
    fi
    sleep 0.5
  done
  say "$what"
}

mkdir -p "$STATE_DIR"

# --------------------------------------------------------------- packages ---
MYSQLD_BIN_CANDIDATES=(mariadbd mysqld /usr/sbin/mariadbd /usr/sbin/mysqld)
REDIS_BIN_CANDIDATES=(redis-server /usr/bin/redis-server /usr/sbin/redis-server)
ETCD_BIN_CANDIDATES=(etcd /usr/bin/etcd /usr/local/bin/etcd)

missing=()
find_bin "${MYSQLD_BIN_CANDIDATES[@]}" >/dev/null || missing+=(mariadb-server)
find_bin "${REDIS_BIN_CANDIDATES[@]}" >/dev/null || missing+=(redis-server)
find_bin "${ETCD_BIN_CANDIDATES[@]}" >/dev/null || missing+=(etcd-server)
RABBIT_BIN_CANDIDATES=(/usr/lib/rabbitmq/bin/rabbitmq-server /usr/sbin/rabbitmq-server rabbitmq-server)
find_bin "${RABBIT_BIN_CANDIDATES[@]}" >/dev/null || missing+=(rabbitmq-server)
# The executor TLS tests make their CA and certificates with it.
find_bin openssl /usr/bin/openssl >/dev/null || missing+=(openssl)

if [ "${#missing[@]}" -eq 0 ]; then
  say "packages: mariadb, redis, etcd, rabbitmq and openssl already installed"
else
  apt_log="$STATE_DIR/apt.log"
  : >"$apt_log"
  if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get update >>"$apt_log" 2>&1 ||
    ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      "${missing[@]}" >>"$apt_log" 2>&1; then
    tail -n 20 "$apt_log" >&2 || true
    die "apt-get install ${missing[*]} failed (full log: $apt_log)"
  fi
  say "packages: installed ${missing[*]}"
fi

MYSQLD_BIN=$(find_bin "${MYSQLD_BIN_CANDIDATES[@]}") || die "no mariadbd/mysqld binary after install"
REDIS_BIN=$(find_bin "${REDIS_BIN_CANDIDATES[@]}") || die "no redis-server binary after install"
ETCD_BIN=$(find_bin "${ETCD_BIN_CANDIDATES[@]}") || die "no etcd binary after install"
find_bin openssl /usr/bin/openssl >/dev/null || die "no openssl binary after install"
MYSQL_CLIENT=$(find_bin mariadb mysql) || die "no mariadb/mysql client found"
REDIS_CLI=$(find_bin redis-cli || true)

# --------------------------------------------------------------- chromium ---
# The dashboard's browser tests drive Debian's Chromium through playwright-core
# (browser downloads do not work here). Installed on its own: it is large, and
# a machine that has the services may still lack it.
CHROMIUM_BIN=/usr/bin/chromium
if [ "${GOCRON_TEST_NO_BROWSER:-}" = 1 ]; then
  say "chromium: not needed (GOCRON_TEST_NO_BROWSER=1)"
elif [ -x "$CHROMIUM_BIN" ]; then
  say "chromium: already installed"
else
  apt_log="$STATE_DIR/apt-chromium.log"
  : >"$apt_log"
  if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get update >>"$apt_log" 2>&1 ||
    ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      chromium >>"$apt_log" 2>&1; then
    tail -n 20 "$apt_log" >&2 || true
    die "apt-get install chromium failed (full log: $apt_log)"
  fi
  [ -x "$CHROMIUM_BIN" ] || die "chromium: $CHROMIUM_BIN missing after install"
  say "chromium: installed $CHROMIUM_BIN"
fi

# ---------------------------------------------------------------- mariadb ---
# The server greets every new connection first (a handshake, or an error packet such as
# "host not allowed"): any bytes mean it is up. `mariadb-admin ping` exits 1 on the
# latter, so it cannot tell "up but refusing root over TCP" from "down".
mysql_alive() {
  local greeting
  greeting=$(timeout 3 bash -c "exec 3<>/dev/tcp/$HOST/$MYSQL_PORT && head -c 4 <&3 | od -An -tx1" 2>/dev/null) || return 1
  [ -n "${greeting// /}" ]
}

# mysql_option NAME DEFAULT: the server's setting from its option files.
mysql_option() {
  local v='' tool
  if tool=$(find_bin my_print_defaults); then
    v=$("$tool" --mysqld 2>/dev/null | sed -n "s/^--${1}=//p; s/^--${1//_/-}=//p; s/^--${1//-/_}=//p" | tail -n 1) || v=''
  fi
  printf '%s\n' "${v:-$2}"
}

mysql_start_failed() {
  local errlog
  errlog=$(mysql_option log-error '')
  {
    tail -n 20 "$STATE_DIR/mariadb.log" 2>/dev/null || true
    [ -n "$errlog" ] && as_root tail -n 20 "$errlog" 2>/dev/null || true
  } >&2
  die "mariadb: not answering on $HOST:$MYSQL_PORT after ${WAIT_SECS}s (see $STATE_DIR/mariadb.log${errlog:+ and $errlog})"
}

if mysql_alive; then
  say "mariadb: already running on $HOST:$MYSQL_PORT"
else
  as_root install -d -o mysql -g mysql -m 0755 /run/mysqld
  datadir=$(mysql_option datadir /var/lib/mysql)
  if ! as_root test -d "$datadir/mysql"; then
    install_db=$(find_bin mariadb-install-db mysql_install_db) || die "mariadb: datadir $datadir is empty and mariadb-install-db is missing"
    as_root install -d -o mysql -g mysql -m 0700 "$datadir"
    as_root "$install_db" --user=mysql --datadir="$datadir" >"$STATE_DIR/mariadb-install-db.log" 2>&1 ||
      die "mariadb: $install_db failed (log: $STATE_DIR/mariadb-install-db.log)"
    say "mariadb: initialised datadir $datadir"
  fi
  as_root start-stop-daemon --start --oknodo --background --output "$STATE_DIR/mariadb.log" \
    --exec "$MYSQLD_BIN" -- --user=mysql --bind-address="$HOST" --port="$MYSQL_PORT"
  wait_until "$WAIT_SECS" "mariadb: started $MYSQLD_BIN on $HOST:$MYSQL_PORT" mysql_alive || mysql_start_failed
fi

# ------------------------------------------------------------------ redis ---
redis_alive() {
  if [ -n "$REDIS_CLI" ]; then
    [ "$("$REDIS_CLI" -h "$HOST" -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]
  else
    port_open "$REDIS_PORT"
  fi
}

if redis_alive; then
  say "redis: already running on $HOST:$REDIS_PORT"
else
  mkdir -p "$STATE_DIR/redis"
  # Runs as the invoking user: an unprivileged port and a user-owned dir need no root.
  "$REDIS_BIN" --daemonize yes --bind "$HOST" --port "$REDIS_PORT" --save "" --appendonly no \
    --dir "$STATE_DIR/redis" --logfile "$STATE_DIR/redis.log" >/dev/null ||
    die "redis: $REDIS_BIN failed to start (see $STATE_DIR/redis.log)"
  wait_until "$WAIT_SECS" "redis: started on $HOST:$REDIS_PORT" redis_alive ||
    die "redis: not answering on $HOST:$REDIS_PORT after ${WAIT_SECS}s (see $STATE_DIR/redis.log)"
fi

# ------------------------------------------------------------------- etcd ---
# curl may be absent: speak HTTP/1.0 over bash's /dev/tcp.
etcd_healthy() {
  local resp
  resp=$(timeout 3 bash -c "exec 3<>/dev/tcp/$HOST/$ETCD_PORT &&
    printf 'GET /health HTTP/1.0\r\nHost: $HOST\r\n\r\n' >&3 && cat <&3" 2>/dev/null) || return 1
  [[ $resp == *'"health":"true"'* ]]
}

etcd_alive_or_dead() {
  etcd_healthy && return 0
  if ! kill -0 "$etcd_pid" 2>/dev/null; then
    tail -n 20 "$STATE_DIR/etcd.log" >&2 || true
    die "etcd: exited during start-up (log: $STATE_DIR/etcd.log)"
  fi
  return 1
}

if etcd_healthy; then
  say "etcd: already running on $HOST:$ETCD_PORT"
else
  mkdir -p "$STATE_DIR/etcd"
  # An etcd of ours that is still shutting down holds the data dir: let it go.
  old_pid=$(cat "$STATE_DIR/etcd.pid" 2>/dev/null || true)
  if [ -n "$old_pid" ] && grep -q etcd "/proc/$old_pid/comm" 2>/dev/null; then
    etcd_gone() { ! kill -0 "$old_pid" 2>/dev/null; }
    wait_until 15 "etcd: previous instance (pid $old_pid) has exited" etcd_gone || {
      kill -KILL "$old_pid" 2>/dev/null || true
      say "etcd: killed unresponsive previous instance (pid $old_pid)"
    }
  fi
  case "$(uname -m)" in
    aarch64 | arm64) export ETCD_UNSUPPORTED_ARCH=arm64 ;;
  esac
  # setsid + nohup: outlives this script and the shell that runs the tests.
  setsid nohup "$ETCD_BIN" \
    --name gocron-test \
    --data-dir "$STATE_DIR/etcd/data" \
    --listen-client-urls "http://$HOST:$ETCD_PORT" \
    --advertise-client-urls "http://$HOST:$ETCD_PORT" \
    --listen-peer-urls "http://$HOST:$ETCD_PEER_PORT" \
    --initial-advertise-peer-urls "http://$HOST:$ETCD_PEER_PORT" \
    --initial-cluster "gocron-test=http://$HOST:$ETCD_PEER_PORT" \
    >>"$STATE_DIR/etcd.log" 2>&1 </dev/null &
  etcd_pid=$!
  echo "$etcd_pid" >"$STATE_DIR/etcd.pid"
  wait_until "$WAIT_SECS" "etcd: started $ETCD_BIN on $HOST:$ETCD_PORT (pid $etcd_pid, data $STATE_DIR/etcd/data)" etcd_alive_or_dead ||
    die "etcd: /health not answering on $HOST:$ETCD_PORT after ${WAIT_SECS}s (log: $STATE_DIR/etcd.log)"
fi

# --------------------------------------------------------------- rabbitmq ---
# Any running broker on the port is used as it is (guest/guest answers on
# loopback). Otherwise Debian's server is started directly, without systemd:
# as the rabbitmq user through Debian's wrapper when it exists (its data and
# cookie under /var/lib/rabbitmq), else from its lib dir with our own dirs.
# An AMQP listener answers 8 bytes of a bad protocol header with its own "AMQP...".
amqp_alive() {
  local reply
  reply=$(timeout 3 bash -c "exec 3<>/dev/tcp/$HOST/$AMQP_PORT && printf 'GOCRON!!' >&3 && head -c 4 <&3" 2>/dev/null) || return 1
  [ "$reply" = AMQP ]
}

if amqp_alive; then
  say "rabbitmq: already running on $HOST:$AMQP_PORT"
else
  RABBIT_BIN=$(find_bin "${RABBIT_BIN_CANDIDATES[@]}") || die "no rabbitmq-server binary after install"
  mkdir -p "$STATE_DIR/rabbitmq"
  if [ -x /usr/sbin/rabbitmq-server ] && id rabbitmq >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
    RABBITMQ_NODE_IP_ADDRESS=$HOST RABBITMQ_NODE_PORT=$AMQP_PORT \
      setsid nohup /usr/sbin/rabbitmq-server >>"$STATE_DIR/rabbitmq.log" 2>&1 </dev/null &
  else
    # Unprivileged: the node's data, logs and cookie under the state dir.
    mkdir -p "$STATE_DIR/rabbitmq/mnesia" "$STATE_DIR/rabbitmq/log" "$STATE_DIR/rabbitmq/home"
    : >"$STATE_DIR/rabbitmq/enabled_plugins"
    HOME="$STATE_DIR/rabbitmq/home" RABBITMQ_NODENAME=gocron-test@localhost \
      RABBITMQ_NODE_IP_ADDRESS=$HOST RABBITMQ_NODE_PORT=$AMQP_PORT \
      RABBITMQ_MNESIA_BASE="$STATE_DIR/rabbitmq/mnesia" RABBITMQ_LOG_BASE="$STATE_DIR/rabbitmq/log" \
      RABBITMQ_ENABLED_PLUGINS_FILE="$STATE_DIR/rabbitmq/enabled_plugins" \
      setsid nohup "$RABBIT_BIN" >>"$STATE_DIR/rabbitmq.log" 2>&1 </dev/null &
  fi
  echo $! >"$STATE_DIR/rabbitmq.pid"
  # Its boot takes 5-15 s; the AMQP listener opens last.
  wait_until "$WAIT_SECS" "rabbitmq: started $RABBIT_BIN on $HOST:$AMQP_PORT" amqp_alive || {
    tail -n 20 "$STATE_DIR/rabbitmq.log" >&2 || true
    die "rabbitmq: not answering on $HOST:$AMQP_PORT after ${WAIT_SECS}s (log: $STATE_DIR/rabbitmq.log)"
  }
fi

# ---------------------------------------------------- test database user ---
mysql_tcp_login() { # USER PASSWORD
  MYSQL_PWD="$2" "$MYSQL_CLIENT" --no-defaults --protocol=tcp -h"$HOST" -P"$MYSQL_PORT" \
    -u"$1" --connect-timeout=5 -e 'SELECT 1' >/dev/null 2>&1
}

if mysql_tcp_login root ''; then
  db_user=root db_password=''
  say "mysql user: root with empty password works over TCP"
elif mysql_tcp_login "$TEST_USER" "$TEST_PASSWORD"; then
  db_user=$TEST_USER db_password=$TEST_PASSWORD
  say "mysql user: $TEST_USER already set up"
else
  # Fresh Debian: root authenticates through the unix socket only.
  as_root "$MYSQL_CLIENT" -uroot <<SQL || die "mysql user: could not create $TEST_USER through the socket as root"
CREATE USER IF NOT EXISTS '$TEST_USER'@'127.0.0.1' IDENTIFIED BY '$TEST_PASSWORD';
CREATE USER IF NOT EXISTS '$TEST_USER'@'localhost' IDENTIFIED BY '$TEST_PASSWORD';
ALTER USER '$TEST_USER'@'127.0.0.1' IDENTIFIED BY '$TEST_PASSWORD';
ALTER USER '$TEST_USER'@'localhost' IDENTIFIED BY '$TEST_PASSWORD';
GRANT ALL PRIVILEGES ON *.* TO '$TEST_USER'@'127.0.0.1';
GRANT ALL PRIVILEGES ON *.* TO '$TEST_USER'@'localhost';
FLUSH PRIVILEGES;
SQL
  mysql_tcp_login "$TEST_USER" "$TEST_PASSWORD" ||
    die "mysql user: $TEST_USER was created but cannot log in over TCP"
  db_user=$TEST_USER db_password=$TEST_PASSWORD
  say "mysql user: created $TEST_USER@127.0.0.1 and @localhost"
fi

# --------------------------------------------------------------- env file ---
env_file="$STATE_DIR/env"
{
  printf 'export GOCRON_TEST_MYSQL_HOST=%q\n' "$HOST"
  printf 'export GOCRON_TEST_MYSQL_PORT=%q\n' "$MYSQL_PORT"
  printf 'export GOCRON_TEST_MYSQL_USER=%q\n' "$db_user"
  printf 'export GOCRON_TEST_MYSQL_PASSWORD=%q\n' "$db_password"
  printf 'export GOCRON_TEST_REDIS_URL=%q\n' "redis://$HOST:$REDIS_PORT"
  printf 'export GOCRON_TEST_ETCD_HOSTS=%q\n' "http://$HOST:$ETCD_PORT"
  printf 'export GOCRON_TEST_AMQP_URL=%q\n' "amqp://guest:guest@$HOST:$AMQP_PORT"
} >"$env_file.tmp"
mv -f "$env_file.tmp" "$env_file"
say "env: wrote $env_file"
