#!/usr/bin/env bash
# Starts or stops a local 3-member cluster of `adrbench serve` processes on
# loopback ports, with etcd's flags, for trying the store with etcdctl.
#
#   scripts/cluster.sh start [--log-backend NAME] [--unsafe-allow-nondurable]
#                                                   # builds, starts, prints endpoints
#   scripts/cluster.sh stop                         # stops the members (SIGTERM)
#
# Data dirs, logs, pid files and the binary live in $ADRBENCH_CLUSTER_DIR
# (default /tmp/adrbench-cluster); starting again restarts the members from
# their data. Member i listens for clients on port BASE+i*1000+379 and for
# peers on BASE+i*1000+380, with BASE=$ADRBENCH_CLUSTER_PORT_BASE (default
# 21000: ports 21379/21380, 22379/22380, 23379/23380).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=lib.sh
source "$root/scripts/lib.sh"
dir="${ADRBENCH_CLUSTER_DIR:-${TMPDIR:-/tmp}/adrbench-cluster}"
names=(m0 m1 m2)
base="${ADRBENCH_CLUSTER_PORT_BASE:-21000}"
client_ports=() peer_ports=()
for i in "${!names[@]}"; do
	client_ports+=($((base + i * 1000 + 379)))
	peer_ports+=($((base + i * 1000 + 380)))
done

endpoints() {
	local eps=()
	for p in "${client_ports[@]}"; do eps+=("127.0.0.1:$p"); done
	(IFS=,; echo "${eps[*]}")
}

stop() {
	local stopped=0
	for n in "${names[@]}"; do
		local pidfile="$dir/$n.pid"
		[[ -f $pidfile ]] || continue
		local pid
		pid="$(cat "$pidfile")"
		if kill -0 "$pid" 2>/dev/null; then
			kill -TERM "$pid"
			for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
			if kill -0 "$pid" 2>/dev/null; then
				echo "cluster.sh: $n (pid $pid) did not stop within 10s; killing it" >&2
				kill -KILL "$pid"
			fi
			stopped=$((stopped + 1))
		fi
		rm -f "$pidfile"
	done
	echo "cluster.sh: stopped $stopped member(s); data is in $dir"
}

start() {
	local backend=batched unsafe=()
	while (($# > 0)); do
		case "$1" in
		--log-backend) backend="$2"; shift 2 ;;
		--log-backend=*) backend="${1#*=}"; shift ;;
		--unsafe-allow-nondurable) unsafe=("$1"); shift ;;
		*) echo "cluster.sh: unknown argument $1" >&2; exit 2 ;;
		esac
	done
	for n in "${names[@]}"; do
		if [[ -f "$dir/$n.pid" ]] && kill -0 "$(cat "$dir/$n.pid")" 2>/dev/null; then
			echo "cluster.sh: $n is already running (pid $(cat "$dir/$n.pid")); run 'scripts/cluster.sh stop' first" >&2
			exit 1
		fi
	done
	for p in "${client_ports[@]}" "${peer_ports[@]}"; do
		if in_use "$p"; then
			echo "cluster.sh: port $p is taken by another process; set ADRBENCH_CLUSTER_PORT_BASE to use other ports" >&2
			exit 1
		fi
	done
	mkdir -p "$dir"
	(cd "$root" && go build -o "$dir/adrbench" ./cmd/adrbench)

	local cluster=() state=new
	for i in "${!names[@]}"; do cluster+=("${names[$i]}=http://127.0.0.1:${peer_ports[$i]}"); done
	# A member restarts from its data dir; a fresh start bootstraps.
	[[ -d "$dir/${names[0]}.data" ]] && state=existing
	for i in "${!names[@]}"; do
		local n="${names[$i]}" c="http://127.0.0.1:${client_ports[$i]}" p="http://127.0.0.1:${peer_ports[$i]}"
		"$dir/adrbench" serve --name "$n" --data-dir "$dir/$n.data" \
			--listen-client-urls "$c" --advertise-client-urls "$c" \
			--listen-peer-urls "$p" --initial-advertise-peer-urls "$p" \
			--initial-cluster "$(IFS=,; echo "${cluster[*]}")" \
			--initial-cluster-state "$state" --initial-cluster-token adrbench-local \
			--log-backend "$backend" "${unsafe[@]}" >>"$dir/$n.log" 2>&1 &
		echo $! >"$dir/$n.pid"
	done
	# Give up early if a member died (bad flags, port in use): its log says why.
	for _ in $(seq 50); do
		for n in "${names[@]}"; do
			if ! kill -0 "$(cat "$dir/$n.pid")" 2>/dev/null; then
				echo "cluster.sh: $n exited; last lines of $dir/$n.log:" >&2
				tail -5 "$dir/$n.log" >&2
				stop >/dev/null
				exit 1
			fi
		done
		# env -u: etcdctl refuses --endpoints when ETCDCTL_ENDPOINTS is set too.
		if command -v etcdctl >/dev/null &&
			env -u ETCDCTL_ENDPOINTS ETCDCTL_API=3 etcdctl --endpoints "$(endpoints)" endpoint health >/dev/null 2>&1; then
			break
		fi
		sleep 0.2
	done
	echo "cluster.sh: 3 members running (log backend $backend); data and logs in $dir"
	echo "export ETCDCTL_API=3 ETCDCTL_ENDPOINTS=$(endpoints)"
}

case "${1:-}" in
start) shift; start "$@" ;;
stop) stop ;;
*) echo "usage: scripts/cluster.sh start [--log-backend NAME] [--unsafe-allow-nondurable] | stop" >&2; exit 2 ;;
esac
