#!/usr/bin/env bash
# Compares the CPU adrbench's load generator spends per 100k puts with what
# etcd's benchmark tool spends for the same load, against the same server.
#
#   ETCD_BENCHMARK=/path/to/benchmark scripts/generator-cpu.sh [ROUNDS]
#
# Every run gets a fresh one-member `adrbench serve --log-backend memory`
# (the server code of the inproc target, in its own process so that the
# generator's CPU can be told apart from the server's). The load: puts of
# 8-byte keys (100k key space, uniform) and 256-byte values, 100 clients
# over 10 connections, 100k puts. The figure is
# the generator process's whole user+system CPU time, start to exit, for
# the 100k puts; the tools alternate order round by round, and the script
# prints every run and the median per tool.
#
# Environment:
#   ETCD_BENCHMARK  etcd's benchmark binary (required; Debian does not ship
#                   it: build it from an etcd source tree with
#                   `go build -o benchmark ./tools/benchmark`)
#   ADRBENCH        adrbench binary (default: built from this checkout)
#   RATE            operations per second for both tools (default 0: closed
#                   loop; otherwise open loop at that rate)
#   PIN=1           run the server on CPU 1 and the generator on CPU 0
#                   (taskset), so neither steals the other's core
#   PORT            client port of the server (default 23790; PORT+1 is its
#                   peer port)
set -euo pipefail

rounds="${1:-5}"
root="$(cd "$(dirname "$0")/.." && pwd)"
: "${ETCD_BENCHMARK:?set ETCD_BENCHMARK to the path of the etcd benchmark tool}"
[[ -x $ETCD_BENCHMARK ]] || { echo "generator-cpu.sh: $ETCD_BENCHMARK is not executable" >&2; exit 2; }
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "generator-cpu.sh: ROUNDS must be a positive integer, got '$rounds'" >&2; exit 2; }
rate="${RATE:-0}"
port="${PORT:-23790}"
work="$(mktemp -d)"
srv=""
trap '[[ -n $srv ]] && kill "$srv" 2>/dev/null; rm -rf "$work"' EXIT
adrbench="${ADRBENCH:-}"
if [[ -z $adrbench ]]; then
	adrbench="$work/adrbench"
	(cd "$root" && go build -o "$adrbench" ./cmd/adrbench)
fi
srv_pin=() gen_pin=()
if [[ ${PIN:-0} == 1 ]]; then
	srv_pin=(taskset -c 1) gen_pin=(taskset -c 0)
fi
url="http://127.0.0.1:$port"

# cpu_of runs a command and prints its user+system CPU seconds.
cpu_of() {
	/usr/bin/time -f "%U %S" -o "$work/time" "$@" >"$work/out" 2>&1 || {
		echo "generator-cpu.sh: failed: $*" >&2
		tail -5 "$work/out" >&2
		return 1
	}
	awk '{printf "%.2f", $1 + $2}' "$work/time"
}

run_one() {
	local tool=$1 data="$work/data"
	rm -rf "$data"
	"${srv_pin[@]}" "$adrbench" serve --name m1 --data-dir "$data" --log-backend memory --unsafe-allow-nondurable \
		--listen-client-urls "$url" --advertise-client-urls "$url" \
		--listen-peer-urls "http://127.0.0.1:$((port + 1))" \
		--initial-advertise-peer-urls "http://127.0.0.1:$((port + 1))" \
		--initial-cluster "m1=http://127.0.0.1:$((port + 1))" >"$work/serve.log" 2>&1 &
	srv=$!
	for _ in $(seq 100); do
		curl -sf "$url/health" >/dev/null && break
		sleep 0.1
	done
	local cpu
	case $tool in
	adrbench)
		local rate_flag=()
		[[ $rate != 0 ]] && rate_flag=(--rate "$rate")
		cpu=$(cpu_of "${gen_pin[@]}" "$adrbench" bench --target external --endpoints "$url" \
			--workload put --clients 100 --conns 10 --total 100000 --key-size 8 --val-size 256 \
			--key-space 100000 "${rate_flag[@]}" --out "$work/run-$RANDOM")
		;;
	etcd-benchmark)
		cpu=$(cpu_of "${gen_pin[@]}" "$ETCD_BENCHMARK" --endpoints "127.0.0.1:$port" \
			--conns 10 --clients 100 --rate "$rate" put --total 100000 --key-size 8 --val-size 256 \
			--key-space-size 100000)
		;;
	esac
	local rps
	rps=$(awk '/Requests\/sec/ {printf "%.0f", $2}' "$work/out")
	kill "$srv" && wait "$srv" || true
	srv=""
	printf '%-15s cpu_s_per_100k %s  requests_per_s %s\n' "$tool" "$cpu" "$rps"
}

tools=(adrbench etcd-benchmark)
for ((r = 1; r <= rounds; r++)); do
	for t in "${tools[@]}"; do run_one "$t"; done | tee -a "$work/all"
	tools=("${tools[1]}" "${tools[0]}")
done
echo
awk '{v[$1] = v[$1] " " $3} END {
	for (t in v) {
		n = split(substr(v[t], 2), a, " ")
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { x = a[i]; a[i] = a[j]; a[j] = x }
		m = (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
		printf "%-15s median %.2f CPU-s per 100k puts (min %.2f, max %.2f, %d runs)\n", t, m, a[1], a[n], n
	}
}' "$work/all"
