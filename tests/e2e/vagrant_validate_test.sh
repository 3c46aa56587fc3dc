#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The Vagrant lab (vagrant/), checked without starting a VM (none can run
# here): `vagrant validate --ignore-provider` on vagrant/Vagrantfile (no
# provider needs to be installed), offline (no version checkpoint, no box
# download, no plugin install; in a network namespace of its own when one
# can be made), with a private HOME and VAGRANT_HOME and without writing
# vagrant/.vagrant; every one of the six machines must be defined. Then the
# tree paths the provisioning scripts use must exist, and the scripts must
# pass `bash -n` and, when installed, shellcheck.
# Needs no root. Exit 77 (skipped) only when vagrant is not installed.
#   vagrant_validate_test.sh [BIN_DIR]   (BIN_DIR is not used)
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
VDIR=$SRC/vagrant
MACHINES=(proxy client uas attacker honeypot controller)

log() { echo "[vagrant-validate] $*" >&2; }
fail() { log "FAIL: $*"; exit 1; }

if ! command -v vagrant >/dev/null; then
  log "vagrant is not installed (scripts/install-deps.sh installs it): skipped"
  exit 77
fi
[ -f "$VDIR/Vagrantfile" ] || fail "$VDIR/Vagrantfile not found"

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/home"
had_dotdir=0
[ -e "$VDIR/.vagrant" ] && had_dotdir=1

# Nothing here may need the network: run vagrant where there is none.
offline=()
if unshare --net true 2>/dev/null; then
  offline=(unshare --net)
elif unshare --net --map-root-user true 2>/dev/null; then
  offline=(unshare --net --map-root-user)
else
  log "cannot make a network namespace; running with the host's network (checkpoint disabled)"
fi

log "$(vagrant --version 2>/dev/null): vagrant validate --ignore-provider ${offline[*]:+under ${offline[*]}}"
vagrant_offline() {  # vagrant_offline [VAR=VALUE...] ARGS...: vagrant on vagrant/, offline, hermetic
  local vars=()
  while [[ ${1:-} == *=* ]]; do vars+=("$1"); shift; done
  (cd "$VDIR" && env -u VAGRANT_DEFAULT_PROVIDER HOME="$TMP/home" VAGRANT_HOME="$TMP/vagrant.d" \
     VAGRANT_DOTFILE_PATH="$TMP/dotfile" VAGRANT_CWD="$VDIR" VAGRANT_VAGRANTFILE=Vagrantfile \
     VAGRANT_CHECKPOINT_DISABLE=1 VAGRANT_BOX_UPDATE_CHECK_DISABLE=1 "${vars[@]}" \
     "${offline[@]}" vagrant "$@" --no-color --no-tty 2>&1)
}
show() { while IFS= read -r line; do echo "  | $line"; done <<<"$1" >&2; }

rc=0
out=$(vagrant_offline validate --ignore-provider) || rc=$?
show "$out"
[ "$rc" = 0 ] || fail "vagrant validate exited $rc"
grep -qx "Vagrantfile validated successfully." <<<"$out" || fail "no 'validated successfully'"
for m in "${MACHINES[@]}"; do
  grep -qx "==> $m: Ignoring provider config for validation..." <<<"$out" || fail "machine $m not validated"
done
# Nothing else may be said, but for Vagrant's heuristic warning about the
# proxy's addresses ending in .1 (it is the lab's router: tools/lab/lab).
unexpected=$(grep -vx -e "Vagrantfile validated successfully." \
  -e "==> [a-z]*: Ignoring provider config for validation..." \
  -e '==> proxy: You assigned a static IP ending in ".1" to this machine.' \
  -e "==> proxy: This is very often used by the router and can cause the" \
  -e "==> proxy: network to not work properly. If the network doesn't work" \
  -e "==> proxy: properly, try changing this IP." <<<"$out" || true)
[ -z "$unexpected" ] || fail "unexpected output from vagrant validate: $unexpected"
# With Debian's vagrant-libvirt installed (it is not required), the libvirt
# provider block is validated too (no libvirtd needed).
if vagrant_offline plugin list | grep -q '^vagrant-libvirt '; then
  log "vagrant-libvirt is installed: vagrant validate with the libvirt provider"
  rc=0
  out=$(vagrant_offline VAGRANT_DEFAULT_PROVIDER=libvirt validate) || rc=$?
  [ "$rc" = 0 ] || { show "$out"; fail "vagrant validate (libvirt) exited $rc"; }
  grep -qx "Vagrantfile validated successfully." <<<"$out" || { show "$out"; fail "libvirt: no 'validated successfully'"; }
else
  log "vagrant-libvirt not installed: the libvirt provider block is not validated"
fi
if [ "$had_dotdir" = 0 ] && [ -e "$VDIR/.vagrant" ]; then
  rm -rf "$VDIR/.vagrant"
  fail "vagrant validate wrote $VDIR/.vagrant"
fi

# The tree paths the provisioning scripts read from the synced source.
scripts=("$VDIR"/provision/*.sh "$VDIR"/provision/bin/*)
missing=0
while read -r p; do
  [ -e "$SRC/$p" ] || { log "missing in the tree: $p"; missing=1; }
done < <(grep -ohE '[$]SW_SRC/[A-Za-z0-9_./-]+' "${scripts[@]}" | sed 's|^[$]SW_SRC/||' | sort -u)
[ "$missing" = 0 ] || fail "provisioning scripts use paths the tree does not have"

for f in "${scripts[@]}"; do
  bash -n "$f" || fail "bash -n $f"
done
log "bash -n: ${#scripts[@]} scripts"
if command -v shellcheck >/dev/null; then
  (cd "$VDIR/provision" && shellcheck -x -P SCRIPTDIR ./*.sh bin/*) || fail "shellcheck"
  log "shellcheck: clean"
else
  log "shellcheck not installed: not run"
fi
log "PASS"
