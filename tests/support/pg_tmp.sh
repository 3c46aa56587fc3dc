#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# A throwaway PostgreSQL server for tests and benchmarks: its own cluster in
# DIR, listening only on a Unix socket in DIR (no TCP port), fsync off.
#
#   pg_tmp.sh start DIR     initdb + start; prints the URL to stdout:
#                           postgresql:///postgres?host=DIR&user=postgres
#   pg_tmp.sh restart DIR   pg_ctl restart (fast): connected clients lose
#                           their sessions
#   pg_tmp.sh down DIR      stop the server, keeping DIR (an outage)
#   pg_tmp.sh up DIR        start it again after down
#   pg_tmp.sh stop DIR      stop the server and remove DIR
#   pg_tmp.sh url DIR       print the URL again
#
# PostgreSQL refuses to run as root: run as root, the server runs as the
# `postgres` system user (runuser), and DIR is given to that user; run as
# anyone else, it runs as the caller. Exit status 77 when PostgreSQL 15's
# initdb (Debian's postgresql package) is absent, so that callers can skip.
# Its log is DIR/server.log.
set -euo pipefail

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
usage() { echo "usage: pg_tmp.sh start|restart|down|up|stop|url DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
cmd=$1
dir=$2
[ ! -d "$dir" ] || dir=$(cd "$dir" && pwd)
[ -x "$PG_BIN/initdb" ] || { echo "pg_tmp.sh: no $PG_BIN/initdb (apt-get install postgresql)" >&2; exit 77; }

as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

url() { echo "postgresql:///postgres?host=$dir&user=postgres"; }

server_start() {
  if ! as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
      -o "-c listen_addresses='' -c unix_socket_directories='$dir' -c fsync=off \
          -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
      start >/dev/null; then
    echo "pg_tmp.sh: the server did not start:" >&2
    cat "$dir/server.log" >&2
    exit 1
  fi
}

case "$cmd" in
  start)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    # The socket path must fit in sockaddr_un (107 bytes).
    [ ${#dir} -le 80 ] || { echo "pg_tmp.sh: $dir is too long for a Unix socket path" >&2; exit 2; }
    if [ "$(id -u)" -eq 0 ]; then
      getent passwd postgres >/dev/null || { echo "pg_tmp.sh: no postgres user" >&2; exit 77; }
      chown postgres: "$dir"
    fi
    chmod 700 "$dir"
    if ! as_pg "$PG_BIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
        --no-sync >"$dir/initdb.log" 2>&1; then
      echo "pg_tmp.sh: initdb failed:" >&2
      cat "$dir/initdb.log" >&2
      exit 1
    fi
    server_start
    url
    ;;
  up)
    server_start
    ;;
  down)
    as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -w -t 30 -m fast stop >/dev/null
    ;;
  restart)
    as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 -m fast restart >/dev/null
    ;;
  stop)
    if [ -f "$dir/data/postmaster.pid" ]; then
      as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -w -t 30 -m fast stop >/dev/null || true
    fi
    rm -rf "$dir"
    ;;
  url)
    url
    ;;
  *) usage ;;
esac
