#!/usr/bin/env bash
# Measures clusters of `adrbench serve` against clusters of real etcd with
# etcd's own benchmark tool, and prints the medians side by side.
#
#   scripts/vs-etcd.sh [ROUNDS]          # ROUNDS defaults to 3
#
# For every member count and workload, each round starts a fresh etcd
# cluster and a fresh adrbench cluster of that size, one after the other
# (the order alternates round by round), drives each with the same
# benchmark command, and stops it. The servers' CPU is the sum of the
# member processes' user+system time read from /proc/PID/stat just before
# and just after the load, so the tool's own CPU is not counted. The table
# gives, per server, the median over the rounds of: operations per second,
# server CPU seconds per 100k operations, and the p50 and p99 latency the
# tool reports; the last column is adrbench's median CPU per 100k divided by
# etcd's.
#
# Workloads (etcd's benchmark subcommands):
#   put              put --key-size KEY_SIZE --val-size VAL_SIZE --key-space-size KEY_SPACE
#   range-l, range-s range of one key (written beforehand with a VAL_SIZE
#                    value) with --consistency l (linearizable) or s
#                    (serializable)
#   txn-put          txn-put --key-size KEY_SIZE --val-size VAL_SIZE --key-space-size KEY_SPACE
#   lease-keepalive  lease-keepalive
# Every workload sends TOTAL requests from CLIENTS clients over CONNS
# connections, spread over all members' endpoints.
#
# etcd's benchmark tool: ETCD_BENCHMARK names the binary. Without it the
# script builds the tool from etcd's Go module, version ETCD_BENCHMARK_VERSION
# (default v3.5.17), fetched through the Go module proxy: the module's
# source is copied to a temporary directory, the replace block of its go.mod
# (which points at sibling directories the module zip does not hold) is
# dropped so that its own modules come from the proxy at the same version,
# and ./tools/benchmark is built. The binary is kept in
# $ADRBENCH_CACHE/etcd-benchmark-VERSION (ADRBENCH_CACHE defaults to
# ${XDG_CACHE_HOME:-$HOME/.cache}/adrbench), so later runs do not rebuild it.
#
# Environment (defaults in parentheses):
#   ETCD_BENCHMARK          etcd's benchmark binary (built, see above)
#   ETCD_BENCHMARK_VERSION  etcd module version to build it from (v3.5.17)
#   ETCD                    etcd server binary (etcd on PATH)
#   ETCDCTL                 etcdctl binary, writes the key the range
#                           workloads read (etcdctl on PATH)
#   ADRBENCH                adrbench binary (built from this checkout)
#   ADRBENCH_BASE           a second adrbench binary, the server
#                           adrbench-base in SERVERS: an older build to
#                           compare in the same rounds
#   LOG_BACKEND             adrbench's --log-backend (batched)
#   MEMBERS                 member counts, space-separated ("1 3 5")
#   WORKLOADS               workloads, space-separated
#                           ("put range-l range-s txn-put lease-keepalive")
#   SERVERS                 servers compared, in the first round's order
#                           ("etcd adrbench"); adrbench-base runs
#                           ADRBENCH_BASE. Each round moves the first
#                           server to the end, so drift favours none.
#   CLIENTS (1000)  CONNS (100)  TOTAL (100000)  KEY_SIZE (8)
#   VAL_SIZE (256)  KEY_SPACE (100000)
#   PIN=1                   members on CPU 1, the benchmark tool on CPU 0
#                           (taskset), so the servers' cost shows as
#                           throughput (0)
#   PORT_BASE               member i listens for clients on PORT_BASE+10*i
#                           and for peers on PORT_BASE+10*i+1 (24000; below
#                           the ephemeral range)
#   WORK_DIR                where data dirs and logs go (a new temporary
#                           directory, removed at exit)
set -euo pipefail

prog=vs-etcd.sh
root="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=lib.sh
source "$root/scripts/lib.sh"
die() {
	echo "$prog: $*" >&2
	exit 2
}

rounds="${1:-3}"
(($# <= 1)) || die "takes at most one argument, ROUNDS; got $#: $*"
[[ $rounds =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive integer, got '$rounds'"

clients="${CLIENTS:-1000}" conns="${CONNS:-100}" total="${TOTAL:-100000}"
key_size="${KEY_SIZE:-8}" val_size="${VAL_SIZE:-256}" key_space="${KEY_SPACE:-100000}"
port_base="${PORT_BASE:-24000}" pin="${PIN:-0}" backend="${LOG_BACKEND:-batched}"
members_list="${MEMBERS:-1 3 5}"
workloads="${WORKLOADS:-put range-l range-s txn-put lease-keepalive}"
servers="${SERVERS:-etcd adrbench}"
version="${ETCD_BENCHMARK_VERSION:-v3.5.17}"

for knob in CLIENTS CONNS TOTAL KEY_SIZE VAL_SIZE KEY_SPACE PORT_BASE; do
	case $knob in
	CLIENTS) v=$clients ;; CONNS) v=$conns ;; TOTAL) v=$total ;; KEY_SIZE) v=$key_size ;;
	VAL_SIZE) v=$val_size ;; KEY_SPACE) v=$key_space ;; PORT_BASE) v=$port_base ;;
	esac
	[[ $v =~ ^[1-9][0-9]*$ ]] || die "$knob must be a positive integer, got '$v'"
done
((conns <= clients)) || die "CONNS ($conns) must not exceed CLIENTS ($clients)"
[[ $pin == 0 || $pin == 1 ]] || die "PIN must be 0 or 1, got '$pin'"
[[ $version =~ ^v3\.[0-9]+\.[0-9]+$ ]] || die "ETCD_BENCHMARK_VERSION must look like v3.5.17, got '$version'"
read -ra members_arr <<<"$members_list"
((${#members_arr[@]} > 0)) || die "MEMBERS is empty"
max_members=1
for n in "${members_arr[@]}"; do
	[[ $n =~ ^[1-9]$ ]] || die "MEMBERS holds '$n'; each must be a member count from 1 to 9"
	((n > max_members)) && max_members=$n
done
((port_base + 10 * max_members < 32768)) || die "PORT_BASE $port_base puts ports of $max_members members at or above 32768, the ephemeral range"
read -ra workload_arr <<<"$workloads"
((${#workload_arr[@]} > 0)) || die "WORKLOADS is empty"
for w in "${workload_arr[@]}"; do
	case $w in
	put | range-l | range-s | txn-put | lease-keepalive) ;;
	*) die "WORKLOADS holds unknown workload '$w' (known: put range-l range-s txn-put lease-keepalive)" ;;
	esac
done
read -ra server_arr <<<"$servers"
((${#server_arr[@]} > 0)) || die "SERVERS is empty"
for s in "${server_arr[@]}"; do
	[[ $s == etcd || $s == adrbench || $s == adrbench-base ]] || die "SERVERS holds unknown server '$s' (known: etcd adrbench adrbench-base)"
done
if [[ " ${server_arr[*]} " == *" adrbench-base "* ]]; then
	[[ -n ${ADRBENCH_BASE:-} ]] || die "SERVERS holds adrbench-base but ADRBENCH_BASE is not set"
	[[ -x $ADRBENCH_BASE ]] || die "ADRBENCH_BASE=$ADRBENCH_BASE is not an executable file"
fi
[[ $pin == 0 ]] || (($(nproc) >= 2)) || die "PIN=1 needs at least 2 CPUs; this machine has $(nproc)"

etcd_bin="${ETCD:-etcd}"
command -v "$etcd_bin" >/dev/null || die "etcd server '$etcd_bin' not found; install Debian's etcd-server or set ETCD"
if [[ " ${workload_arr[*]} " == *" range-"* ]]; then
	etcdctl_bin="${ETCDCTL:-etcdctl}"
	command -v "$etcdctl_bin" >/dev/null || die "etcdctl '$etcdctl_bin' not found (the range workloads write their key with it); install Debian's etcd-client or set ETCDCTL"
fi
command -v taskset >/dev/null || [[ $pin == 0 ]] || die "PIN=1 needs taskset (util-linux)"

work_dir vs-etcd

bench="$(etcd_benchmark "$version" "$work")"
adrbench="$(adrbench_binary "$root")"

srv_pin=() gen_pin=()
if [[ $pin == 1 ]]; then
	srv_pin=(taskset -c 1) gen_pin=(taskset -c 0)
fi
hz="$(getconf CLK_TCK)"

# server_ticks prints the user+system clock ticks of the running members.
server_ticks() {
	local sum=0 p stat
	for p in "${pids[@]}"; do
		stat="$(cat "/proc/$p/stat")" || die "member pid $p is gone"
		# Fields after the command name, which ends at the last ')':
		# state is field 3, utime 14 and stime 15.
		read -ra f <<<"${stat##*) }"
		sum=$((sum + f[11] + f[12]))
	done
	echo "$sum"
}

# start_cluster starts N members of server $1 and waits until every member
# reports healthy.
start_cluster() {
	local server=$1 n=$2 cluster=() i
	for ((i = 0; i < n; i++)); do
		local cp=$((port_base + 10 * i)) pp=$((port_base + 10 * i + 1))
		in_use "$cp" && die "port $cp is taken by another process; set PORT_BASE to use other ports"
		in_use "$pp" && die "port $pp is taken by another process; set PORT_BASE to use other ports"
		cluster+=("m$i=http://127.0.0.1:$pp")
	done
	local initial
	initial="$(IFS=,; echo "${cluster[*]}")"
	rm -rf "$work/data"
	mkdir -p "$work/data"
	pids=()
	for ((i = 0; i < n; i++)); do
		local c="http://127.0.0.1:$((port_base + 10 * i))" p="http://127.0.0.1:$((port_base + 10 * i + 1))"
		local common=(--name "m$i" --data-dir "$work/data/m$i"
			--listen-client-urls "$c" --advertise-client-urls "$c"
			--listen-peer-urls "$p" --initial-advertise-peer-urls "$p"
			--initial-cluster "$initial" --initial-cluster-state new
			--initial-cluster-token vs-etcd)
		case $server in
		etcd) "${srv_pin[@]}" "$etcd_bin" "${common[@]}" --logger=zap --log-level=warn >"$work/m$i.log" 2>&1 & ;;
		adrbench) "${srv_pin[@]}" "$adrbench" serve "${common[@]}" --log-backend "$backend" >"$work/m$i.log" 2>&1 & ;;
		adrbench-base) "${srv_pin[@]}" "$ADRBENCH_BASE" serve "${common[@]}" --log-backend "$backend" >"$work/m$i.log" 2>&1 & ;;
		esac
		pids+=($!)
	done
	local deadline=$((SECONDS + 60))
	for ((i = 0; i < n; i++)); do
		until curl -sf "http://127.0.0.1:$((port_base + 10 * i))/health" 2>/dev/null | grep -q '"health": *"true"'; do
			if ! kill -0 "${pids[$i]}" 2>/dev/null; then
				echo "$prog: $server member m$i exited; last lines of its log:" >&2
				tail -5 "$work/m$i.log" >&2
				exit 1
			fi
			((SECONDS < deadline)) || die "$server cluster of $n was not healthy within 60 s; see $work/m$i.log"
			sleep 0.1
		done
	done
}

# run_one measures one workload on one fresh cluster and appends a line
# "workload members server ops_s cpu_per_100k p50_ms p99_ms" to $work/all.
run_one() {
	local server=$1 n=$2 workload=$3 eps=() i
	for ((i = 0; i < n; i++)); do eps+=("127.0.0.1:$((port_base + 10 * i))"); done
	local endpoints
	endpoints="$(IFS=,; echo "${eps[*]}")"
	start_cluster "$server" "$n"
	local cmd=()
	case $workload in
	put) cmd=(put --total "$total" --key-size "$key_size" --val-size "$val_size" --key-space-size "$key_space") ;;
	txn-put) cmd=(txn-put --total "$total" --key-size "$key_size" --val-size "$val_size" --key-space-size "$key_space") ;;
	range-l | range-s)
		head -c "$val_size" /dev/zero | tr '\0' v | env -u ETCDCTL_ENDPOINTS ETCDCTL_API=3 \
			"$etcdctl_bin" --endpoints "$endpoints" put vs-etcd-key >/dev/null ||
			die "etcdctl could not write the range workload's key to $server"
		cmd=(range vs-etcd-key --total "$total" --consistency "${workload#range-}")
		;;
	lease-keepalive) cmd=(lease-keepalive --total "$total") ;;
	esac
	local before after
	before="$(server_ticks)"
	"${gen_pin[@]}" "$bench" --endpoints "$endpoints" --clients "$clients" --conns "$conns" "${cmd[@]}" \
		>"$work/bench.out" 2>&1 || {
		echo "$prog: the benchmark tool failed against $server ($n members, $workload):" >&2
		tail -5 "$work/bench.out" >&2
		exit 1
	}
	after="$(server_ticks)"
	stop_members 10
	if grep -q '^Error distribution' "$work/bench.out"; then
		echo "$prog: warning: $server ($n members, $workload) answered with errors:" >&2
		sed -n '/^Error distribution/,$p' "$work/bench.out" >&2
	fi
	awk -v w="$workload" -v n="$n" -v s="$server" -v ticks=$((after - before)) -v hz="$hz" -v total="$total" '
		/Requests\/sec:/ { rps = $2 }
		/^ *50% in/ { p50 = $3 * 1000 }
		/^ *99% in/ { p99 = $3 * 1000 }
		END {
			if (rps == "") { print "no Requests/sec in the benchmark output" > "/dev/stderr"; exit 1 }
			printf "%s %d %s %.0f %.2f %.2f %.2f\n", w, n, s, rps, ticks / hz * 100000 / total, p50, p99
		}' "$work/bench.out" | tee -a "$work/all" >&2
}

echo "$prog: $rounds round(s); members: ${members_arr[*]}; workloads: ${workload_arr[*]}; $clients clients over $conns connections, $total requests each; PIN=$pin; adrbench --log-backend $backend" >&2
: >"$work/all"
order=("${server_arr[@]}")
for ((r = 1; r <= rounds; r++)); do
	for n in "${members_arr[@]}"; do
		for w in "${workload_arr[@]}"; do
			for s in "${order[@]}"; do run_one "$s" "$n" "$w"; done
		done
	done
	# Rotate which server goes first, so drift favours none.
	order=("${order[@]:1}" "${order[0]}")
done

printf '\nmedians over %d round(s), %d clients over %d connections, %d requests, PIN=%s\n' "$rounds" "$clients" "$conns" "$total" "$pin"
awk '
	function median(list,   a, n, i, j, x) {
		n = split(list, a, " ")
		for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { x = a[i]; a[i] = a[j]; a[j] = x }
		return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
	}
	{
		k = $1 SUBSEP $2 SUBSEP $3
		if (!(k in seen)) { seen[k] = 1; keys[++nk] = k }
		ops[k] = ops[k] " " $4; cpu[k] = cpu[k] " " $5; p50[k] = p50[k] " " $6; p99[k] = p99[k] " " $7
	}
	END {
		printf "%-16s %7s %-13s %10s %15s %9s %9s %12s\n", "workload", "members", "server", "ops/s", "cpu-s/100k-ops", "p50-ms", "p99-ms", "cpu-vs-etcd"
		for (i = 1; i <= nk; i++) {
			split(keys[i], f, SUBSEP)
			mc[keys[i]] = median(cpu[keys[i]])
		}
		for (i = 1; i <= nk; i++) {
			k = keys[i]
			split(k, f, SUBSEP)
			e = f[1] SUBSEP f[2] SUBSEP "etcd"
			ratio = (f[3] != "etcd" && (e in mc) && mc[e] > 0) ? sprintf("%.2fx", mc[k] / mc[e]) : "-"
			printf "%-16s %7d %-13s %10.0f %15.2f %9.2f %9.2f %12s\n", f[1], f[2], f[3], median(ops[k]), mc[k], median(p50[k]), median(p99[k]), ratio
		}
	}' "$work/all"
