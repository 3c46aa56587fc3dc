#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The attacker: sipvicious (svmap, svwar, svcrack), sipp and packet tools,
# from Debian 12. It may send from 10.61.3.66..70 (net.sh adds the extra
# addresses and allows binding to them); sw-sipsend is there when the tree
# was built here too (SW_VAGRANT_ATTACKER_BUILD=1 at 'vagrant up').
# shellcheck source=common.sh
. "${SW_SRC:-/vagrant-src}/vagrant/provision/common.sh"

apt_install sipvicious sip-tester tcpdump nmap hping3 netcat-openbsd python3-scapy jq

# A small password list for svcrack: user 1001's password (pw1001) is in it.
words=/home/vagrant/words.txt
if [ -d /home/vagrant ] && [ ! -e "$words" ]; then
  printf '%s\n' 1234 12345 123456 password secret voip sip 1001 pw1000 pw1001 pw1002 >"$words"
  chown vagrant: "$words" 2>/dev/null || true
fi

tools="svmap svwar svcrack sipp"
[ -x "$SW_BIN_DIR/sw-sipsend" ] && tools="$tools sw-sipsend"
srcs="10.61.${SW_NET:?}.${SW_HOST:?}"
for h in ${SW_EXTRA_HOSTS:-}; do srcs="$srcs 10.61.$SW_NET.$h"; done
log "attack tools: $tools; source addresses: $srcs"
log "try: svmap $SW_SIP4   then on the proxy: sudo sipwardenctl block list"
