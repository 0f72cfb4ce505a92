# Shared by scripts/run and scripts/test. Source it; do not run it.
# BEELDBEL_VENV picks the virtualenv (default: .venv in the repository).

VENV="${BEELDBEL_VENV:-$PWD/.venv}"
PYTHON_BIN="${PYTHON:-python3}"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# Create the virtualenv and install Beeldbel into it, unless what is installed already
# matches pyproject.toml and constraints.txt (a stamp file records their hash).
ensure_venv() {
  local extras="$1"  # "" or "dev"
  local hash stamp
  hash="$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)"
  stamp="$(cat "$VENV/.beeldbel-installed" 2>/dev/null || true)"
  # A dev install serves both scripts; a base install serves scripts/run only.
  if [ "$stamp" = "$hash dev" ] || [ "$stamp" = "$hash ${extras:-base}" ]; then return 0; fi
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating virtualenv in $VENV"
    "$PYTHON_BIN" -m venv "$VENV"
  fi
  say "installing Beeldbel${extras:+ with its $extras tools} (pip)"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet -c constraints.txt -e ".${extras:+[$extras]}"
  echo "$hash ${extras:-base}" > "$VENV/.beeldbel-installed"
}

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

APT_UPDATED=""
apt_install() {
  local missing=()
  for package in "$@"; do
    dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing ${missing[*]} (apt)"
  if [ -z "$APT_UPDATED" ]; then as_root apt-get update -qq; APT_UPDATED=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
}

wait_for() {  # wait_for <seconds> <command...>
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -ge $deadline ] && return 1
    sleep 0.5
  done
}

ensure_postgres() {
  command -v pg_isready >/dev/null || apt_install postgresql-client
  if pg_isready -q -h 127.0.0.1 -p 5432; then return 0; fi
  if ! ls /etc/postgresql >/dev/null 2>&1; then
    echo "PostgreSQL is not installed; the data-layer tests need it (see the README)." >&2
    return 1
  fi
  say "starting PostgreSQL"
  as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | tail -n 1)" main start
  wait_for 30 pg_isready -q -h 127.0.0.1 -p 5432
}

ensure_redis() {
  command -v redis-server >/dev/null && command -v redis-cli >/dev/null \
    || apt_install redis-server redis-tools
  if redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; then return 0; fi
  say "starting Redis"
  as_root mkdir -p /var/lib/redis /var/log/redis
  as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" \
    --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_for 15 sh -c 'redis-cli -h 127.0.0.1 -p 6379 ping | grep -q PONG'
}

# Debian's Chromium for the browser tests. Playwright drives it and never downloads a
# browser of its own (no `playwright install`).
ensure_chromium() {
  [ -x /usr/bin/chromium ] || apt_install chromium
}

# coturn for the browser call tests: they start and stop their own turnserver on loopback
# (free ports, a temporary directory); nothing runs as a daemon.
ensure_coturn() {
  command -v turnserver >/dev/null || apt_install coturn
}

# The web shell is plain ES modules and needs no build; npm only brings the test tools
# (axe-core), pinned by package-lock.json.
ensure_node_modules() {
  command -v npm >/dev/null || apt_install npm
  if [ -f node_modules/axe-core/axe.min.js ] && cmp -s package-lock.json node_modules/.beeldbel-lock
  then return 0; fi
  say "installing the web tests' tools (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json node_modules/.beeldbel-lock
}
