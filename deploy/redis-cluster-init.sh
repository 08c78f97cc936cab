#!/bin/sh
# Join fresh Redis nodes into a cluster of masters, slots split evenly; does nothing if they already are one.
#   redis-cluster-init.sh redis:6379 redis-2:6379 redis-3:6379
# Host names are resolved to IPv4 addresses first: CLUSTER MEET, which redis-cli uses, takes addresses only.
set -eu
first=$1
if redis-cli -h "${first%:*}" -p "${first##*:}" cluster info | grep -q '^cluster_state:ok'; then
  echo "already a cluster"
  exit 0
fi
nodes=""
for node in "$@"; do
  address=$(getent ahostsv4 "${node%:*}" | awk 'NR == 1 { print $1 }')
  if [ -z "$address" ]; then
    echo "cannot resolve ${node%:*}" >&2
    exit 1
  fi
  nodes="$nodes $address:${node##*:}"
done
# shellcheck disable=SC2086  # one argument per node
redis-cli --cluster create $nodes --cluster-replicas 0 --cluster-yes
# Every node must say the cluster is up before anyone uses it (the news spreads by gossip, in a moment).
for node in "$@"; do
  tries=0
  until redis-cli -h "${node%:*}" -p "${node##*:}" cluster info | grep -q '^cluster_state:ok'; do
    tries=$((tries + 1))
    if [ "$tries" -ge 300 ]; then
      echo "the cluster did not come up on $node" >&2
      exit 1
    fi
    sleep 0.1
  done
done
echo "cluster ready"
