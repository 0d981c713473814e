#!/usr/bin/env bash
# Measures a one-member `adrbench serve` and a one-member etcd holding a
# large store (1 million keys by default), one server after the other, and
# prints a table with etcd's column beside adrbench's.
#
#   scripts/scale.sh                              # KEYS=1000000
#   KEYS="1000000 10000000" scripts/scale.sh      # both sizes
#
# For every store size N in KEYS and every server in SERVERS, on a fresh
# data directory:
#   1. start one member (--quota-backend-bytes QUOTA, --snapshot-count SNAP
#      for both servers); read its memory while empty;
#   2. load: N keys (KEY_SIZE-byte zero-padded decimals 0..N-1, VAL_SIZE-byte
#      values) written once each by `adrbench bench --target external`, in
#      chunks of LOAD_CHUNK keys (the first a sequential put workload, the
#      others inserts after the keys already written), CLIENTS clients over
#      CONNS connections; writes/s is N over the chunks' summed durations;
#   3. memory after load, SETTLE seconds later: VmRSS, RssAnon (RSS minus
#      file-backed pages, so the bbolt mmap both servers have is left out)
#      and the Go heap (go_memstats_heap_alloc_bytes from /metrics); the
#      memory per key is (RssAnon after load - RssAnon empty) / N, and that
#      is the figure judged;
#   4. puts on the full store: PUTS puts to uniformly chosen existing keys
#      (adrbench bench, same clients);
#   5. reads on the full store with etcd's benchmark tool, linearizable,
#      RANGE_CLIENTS clients over one connection each: GETS single-key gets of
#      key N/2, and RANGES ranges of the 1000 keys from key N/2 (the count
#      is checked with etcdctl first);
#   6. sizes: the member's bbolt file (member/snap/db) and the data dir;
#   7. startup after a crash: enough puts are written that about
#      SNAP-2000 raft entries follow the last snapshot (the raft index is
#      read from `etcdctl endpoint status`; etcd's last snapshot index from
#      the name of its newest member/snap/*.snap; adrbench's data dir does
#      not show it, so it is taken as the last multiple of SNAP, as
#      adrbench snapshots every SNAP applied entries from index 0), the
#      member is killed with SIGKILL and started again on the same data
#      dir; timed from the start of the process to the first linearizable
#      get it answers (etcdctl, polled every 50 ms). The table gives the
#      raft index at the crash and, for etcd, its last snapshot's index:
#      the log entries replayed at startup are those after it;
#   8. snapshot send: `etcdctl member add m1`, then m1 is started with
#      --initial-cluster-state existing; timed from m1's start until its
#      revision equals m0's. A server whose MemberAdd fails (adrbench's
#      membership is static) gets "unsupported" and the error in the log.
# The timed phases hold `flock BENCH_LOCK` in four stretches, released in
# between: each load chunk; the puts and reads; the crash (its puts, the
# kill, the restart); the snapshot.
#
# The rejoin phase measures the snapshot a leader sends to a member whose
# data dir was lost, the one way both servers support to bring a member up
# from nothing (adrbench's membership is static, so it has no member add):
#   1. three members, m0..m2, start on fresh data dirs (the same flags as
#      above; adrbench at --log-level debug and etcd at --log-level info,
#      so that both log raft's "restored snapshot"); N keys are loaded as
#      in step 2, holding BENCH_LOCK shared, as the load is not measured;
#   2. a follower other than m0 is stopped with SIGTERM and its data dir
#      removed; REJOIN_PUTS more puts go to m0, then a marker key; the
#      leader is restarted (SIGTERM, same data dir), as a leader that
#      still holds the lost member's old match index sends it heartbeats
#      that make raft panic on an empty log, in etcd as in adrbench, and
#      a new term clears it; the new leader's raft index must exceed
#      SNAP+5000, so that its log has been compacted past index 1 (both
#      servers keep 5000 entries behind a snapshot) and a member with no
#      log can only be sent a snapshot;
#   3. under BENCH_LOCK, the member is started again on an empty data dir
#      (adrbench: --initial-cluster-state new, which is how a member whose
#      data dir was removed comes back; etcd: existing, how etcd restarts
#      a member still in its membership); timed from its start until its
#      revision equals the leader's and a serializable get on it returns
#      the marker's value;
#   4. it is checked that a snapshot was received (raft's "restored
#      snapshot" in the member's log; none means a log replay, and the
#      run fails); recorded: the catch-up time, the raft index of the
#      snapshot restored, the member's new bbolt file, and for etcd the
#      bytes its leader logged as sent ("sent database snapshot").
#
# Environment (defaults in parentheses):
#   KEYS            store sizes, space-separated ("1000000")
#   SERVERS         servers, in order ("etcd adrbench")
#   PHASES          what to run for each size and server, in order
#                   ("single rejoin"): single is steps 1-8 on one member,
#                   rejoin the three-member snapshot phase
#   REJOIN_PUTS     puts written while the member is down (5000)
#   ETCD            etcd server binary (etcd on PATH; Debian's etcd-server)
#   ETCDCTL         etcdctl binary (etcdctl on PATH; Debian's etcd-client)
#   ETCD_BENCHMARK  etcd's benchmark tool (without it, built from etcd's Go
#                   module at ETCD_BENCHMARK_VERSION, default v3.5.17, and
#                   cached, as scripts/vs-etcd.sh does: see scripts/lib.sh)
#   ADRBENCH        adrbench binary (built from this checkout)
#   LOG_BACKEND     adrbench's --log-backend (batched)
#   QUOTA           --quota-backend-bytes of both servers (8589934592)
#   SNAP            --snapshot-count of both servers (100000)
#   CLIENTS (500)  CONNS (50)  LOAD_CHUNK (1000000)  PUTS (100000)
#   RANGE_CLIENTS (16)  GETS (20000)  RANGES (2000)
#   KEY_SIZE (8, at most 16)  VAL_SIZE (256)  SETTLE (10, seconds)
#   BENCH_LOCK      lock file held during timed phases (/tmp/adrbench-bench.lock)
#   PORT_BASE       m0 listens for clients on PORT_BASE and peers on
#                   PORT_BASE+1, m1 on PORT_BASE+10 and +11, m2 on +20 and
#                   +21 (26100; below the ephemeral range)
#   WORK_DIR        where data dirs and logs go (a new temporary directory,
#                   removed at exit)
set -euo pipefail

prog=scale.sh
root="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=lib.sh
source "$root/scripts/lib.sh"
die() {
	echo "$prog: $*" >&2
	exit 2
}
(($# == 0)) || die "takes no arguments (set KEYS, SERVERS, ... in the environment); got $#: $*"

keys_list="${KEYS:-1000000}" servers="${SERVERS:-etcd adrbench}" backend="${LOG_BACKEND:-batched}"
quota="${QUOTA:-8589934592}" snap="${SNAP:-100000}"
clients="${CLIENTS:-500}" conns="${CONNS:-50}" chunk="${LOAD_CHUNK:-1000000}" puts="${PUTS:-100000}"
rclients="${RANGE_CLIENTS:-16}" gets="${GETS:-20000}" ranges="${RANGES:-2000}"
key_size="${KEY_SIZE:-8}" val_size="${VAL_SIZE:-256}" settle="${SETTLE:-10}"
port_base="${PORT_BASE:-26100}" lock="${BENCH_LOCK:-/tmp/adrbench-bench.lock}"
phases="${PHASES:-single rejoin}" rejoin_puts="${REJOIN_PUTS:-5000}"

for knob in QUOTA SNAP CLIENTS CONNS LOAD_CHUNK PUTS RANGE_CLIENTS GETS RANGES KEY_SIZE VAL_SIZE SETTLE PORT_BASE REJOIN_PUTS; do
	case $knob in
	QUOTA) v=$quota ;; SNAP) v=$snap ;; CLIENTS) v=$clients ;; CONNS) v=$conns ;;
	LOAD_CHUNK) v=$chunk ;; PUTS) v=$puts ;; RANGE_CLIENTS) v=$rclients ;; GETS) v=$gets ;;
	RANGES) v=$ranges ;; KEY_SIZE) v=$key_size ;; VAL_SIZE) v=$val_size ;; SETTLE) v=$settle ;;
	PORT_BASE) v=$port_base ;; REJOIN_PUTS) v=$rejoin_puts ;;
	esac
	[[ $v =~ ^[1-9][0-9]*$ ]] || die "$knob must be a positive integer, got '$v'"
done
((conns <= clients)) || die "CONNS ($conns) must not exceed CLIENTS ($clients)"
((key_size <= 16)) || die "KEY_SIZE must be at most 16, got $key_size"
((snap > 2000)) || die "SNAP must exceed 2000 (the crash phase leaves SNAP-2000 entries after the last snapshot), got $snap"
((port_base + 21 < 32768)) || die "PORT_BASE $port_base puts ports at or above 32768, the ephemeral range"
read -ra keys_arr <<<"$keys_list"
((${#keys_arr[@]} > 0)) || die "KEYS is empty"
for n in "${keys_arr[@]}"; do
	[[ $n =~ ^[1-9][0-9]*$ ]] || die "KEYS holds '$n'; each must be a positive integer"
	((n >= 2000)) || die "KEYS holds $n; each must be at least 2000 (the range phase reads 1000 keys from N/2)"
	((${#n} <= key_size)) || die "KEYS holds $n, more keys than KEY_SIZE=$key_size decimal digits can name"
done
read -ra server_arr <<<"$servers"
((${#server_arr[@]} > 0)) || die "SERVERS is empty"
for s in "${server_arr[@]}"; do
	[[ $s == etcd || $s == adrbench ]] || die "SERVERS holds unknown server '$s' (known: etcd adrbench)"
done
read -ra phase_arr <<<"$phases"
((${#phase_arr[@]} > 0)) || die "PHASES is empty"
for ph in "${phase_arr[@]}"; do
	[[ $ph == single || $ph == rejoin ]] || die "PHASES holds unknown phase '$ph' (known: single rejoin)"
done

etcd_bin="${ETCD:-etcd}" etcdctl_bin="${ETCDCTL:-etcdctl}"
command -v "$etcd_bin" >/dev/null || die "etcd server '$etcd_bin' not found; install Debian's etcd-server or set ETCD"
command -v "$etcdctl_bin" >/dev/null || die "etcdctl '$etcdctl_bin' not found; install Debian's etcd-client or set ETCDCTL"
command -v flock >/dev/null || die "flock (util-linux) not found"

work_dir scale
bench="$(etcd_benchmark "${ETCD_BENCHMARK_VERSION:-v3.5.17}" "$work")"

adrbench="$(adrbench_binary "$root")"

ctl() { env -u ETCDCTL_ENDPOINTS ETCDCTL_API=3 "$etcdctl_bin" "$@"; }
now() { date +%s.%N; }
key() { printf "%0${key_size}d" "$1"; }
# lock_take and lock_release hold BENCH_LOCK, on fd 9, around timed phases
# run in this shell. Members are started with fd 9 closed: a member that
# kept it open would hold the lock for as long as it runs.
lock_take() {
	exec 9>>"$lock"
	flock 9
}
lock_release() { exec 9>&-; }
# lock_share holds BENCH_LOCK shared, for work that burns CPU without
# being measured; lock_release ends it.
lock_share() {
	exec 9>>"$lock"
	flock -s 9
}
# record appends "N metric server value" to the results.
record() { echo "$1 $2 $3 $4" | tee -a "$work/all" >&2; }

# start_member SERVER NAME INDEX INITIAL_CLUSTER STATE [VERBOSE] starts a
# member in the background and sets started_pid. With VERBOSE set to 1,
# etcd logs at info and adrbench at debug (where raft's own messages go)
# instead of warn and info.
start_member() {
	local server=$1 name=$2 i=$3 initial=$4 state=$5 verbose=${6:-0}
	local etcd_level=warn adr_level=info
	if ((verbose)); then etcd_level=info adr_level=debug; fi
	local c="http://127.0.0.1:$((port_base + 10 * i))" p="http://127.0.0.1:$((port_base + 10 * i + 1))"
	local common=(--name "$name" --data-dir "$work/data/$name"
		--listen-client-urls "$c" --advertise-client-urls "$c"
		--listen-peer-urls "$p" --initial-advertise-peer-urls "$p"
		--initial-cluster "$initial" --initial-cluster-state "$state"
		--initial-cluster-token scale --quota-backend-bytes "$quota" --snapshot-count "$snap")
	case $server in
	etcd) "$etcd_bin" "${common[@]}" --logger=zap --log-level="$etcd_level" >>"$work/$name.log" 2>&1 9>&- & ;;
	adrbench) "$adrbench" serve "${common[@]}" --log-backend "$backend" --log-level "$adr_level" >>"$work/$name.log" 2>&1 9>&- & ;;
	esac
	started_pid=$!
}

# wait_get EP PID polls a linearizable get of key 0 at EP until it answers,
# failing if PID exits or 600 s pass.
wait_get() {
	local ep=$1 pid=$2 deadline=$((SECONDS + 600))
	until ctl --endpoints "$ep" --command-timeout=2s get "$(key 0)" --print-value-only >/dev/null 2>&1; do
		kill -0 "$pid" 2>/dev/null || die "member pid $pid exited; see the logs in $work"
		((SECONDS < deadline)) || die "member at $ep answered no linearizable get within 600 s"
		sleep 0.05
	done
}


# status_field EP FIELD prints a field of etcdctl endpoint status -w json
# (revision, raftIndex, dbSize).
status_field() {
	ctl --endpoints "$1" endpoint status -w json | grep -o "\"$2\":[0-9]*" | head -1 | cut -d: -f2
}

# last_snapshot prints the raft index of etcd's newest snapshot, from the
# name of its file (TERM-INDEX.snap, both in hex), 0 when it has none.
last_snapshot() {
	local f
	f="$(find "$work/data/m0/member/snap" -name '*.snap' -printf '%f\n' | sort | tail -1)"
	[[ -n $f ]] || {
		echo 0
		return
	}
	f="${f%.snap}"
	echo $((16#${f#*-}))
}

# memory N SERVER PID PHASE records VmRSS and RssAnon of PID (bytes).
memory() {
	local n=$1 server=$2 pid=$3 phase=$4 rss anon
	rss="$(awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$pid/status")"
	anon="$(awk '/^RssAnon:/ { print $2 * 1024 }' "/proc/$pid/status")"
	record "$n" "rss-$phase" "$server" "$rss"
	record "$n" "rssanon-$phase" "$server" "$anon"
}

# bench_adr LOGNAME ARGS... runs adrbench bench against the members in
# bench_eps (comma-separated client URLs: m0 alone in the single phase, the
# running members in the rejoin phase, as the harness looks for the leader
# among them) and prints its total seconds.
bench_adr() {
	local log="$work/$1.out" out="$work/run-$1"
	shift
	rm -rf "$out"
	"$adrbench" bench --target external --endpoints "$bench_eps" \
		--clients "$clients" --conns "$conns" --key-size "$key_size" --val-size "$val_size" \
		--out "$out" "$@" >"$log" 2>&1 || {
		echo "$prog: adrbench bench $* failed:" >&2
		tail -5 "$log" >&2
		exit 1
	}
	grep -q ' 0 failed' "$log" || die "adrbench bench $* had failed operations; see $log"
	awk '/^ *Total:/ { print $2 }' "$log"
}

# bench_etcd LOGNAME ARGS... runs etcd's benchmark tool against m0 and
# prints "p50_ms p99_ms requests_per_s".
bench_etcd() {
	local log="$work/$1.out"
	shift
	"$bench" --endpoints "127.0.0.1:$port_base" --clients "$rclients" --conns "$rclients" "$@" \
		>"$log" 2>&1 || {
		echo "$prog: etcd's benchmark tool ($*) failed:" >&2
		tail -5 "$log" >&2
		exit 1
	}
	! grep -q '^Error distribution' "$log" || die "etcd's benchmark tool ($*) got errors; see $log"
	awk '/Requests\/sec:/ { rps = $2 } /^ *50% in/ { p50 = $3 * 1000 } /^ *99% in/ { p99 = $3 * 1000 }
		END { if (rps == "") exit 1; printf "%.2f %.2f %.0f\n", p50, p99, rps }' "$log" ||
		die "no Requests/sec in $log"
}

# load_keys SERVER N LOCK writes keys 0..N-1 through m0, chunk by chunk,
# each chunk under the lock on its own (LOCK is lock_take or lock_share),
# checks that m0 then holds N keys, and sets load_secs to the chunks'
# summed durations.
load_keys() {
	local server=$1 n=$2 take=$3 done_keys=0 c t count
	load_secs=0
	while ((done_keys < n)); do
		c=$((n - done_keys < chunk ? n - done_keys : chunk))
		"$take"
		if ((done_keys == 0)); then
			t="$(bench_adr load --workload put --distribution sequential --key-space "$c" --total "$c")"
		else
			t="$(bench_adr load --workload mixed --mix insert=100 --key-space "$done_keys" --total "$c")"
		fi
		lock_release
		load_secs="$(awk -v a="$load_secs" -v b="$t" 'BEGIN { print a + b }')"
		done_keys=$((done_keys + c))
	done
	count="$(ctl --endpoints "127.0.0.1:$port_base" --command-timeout=120s get "" --from-key --limit 1 -w json | grep -o '"count":[0-9]*' | cut -d: -f2)"
	[[ $count == "$n" ]] || die "$server holds $count keys after the load, not $n"
}

run_server() {
	local server=$1 n=$2 ep0="127.0.0.1:$port_base" ep1="127.0.0.1:$((port_base + 10))"
	local peer0="http://127.0.0.1:$((port_base + 1))" peer1="http://127.0.0.1:$((port_base + 11))"
	local p
	for p in "$port_base" $((port_base + 1)) $((port_base + 10)) $((port_base + 11)); do
		in_use "$p" && die "port $p is taken by another process; set PORT_BASE to use other ports"
	done
	rm -rf "$work/data" "$work"/m?.log
	mkdir -p "$work/data"
	echo "$prog: $server, $n keys" >&2
	bench_eps="http://$ep0"

	start_member "$server" m0 0 "m0=$peer0" new
	pids=("$started_pid")
	wait_get "$ep0" "${pids[0]}"
	sleep "$settle"
	memory "$n" "$server" "${pids[0]}" empty

	load_keys "$server" "$n" lock_take
	record "$n" load-writes-s "$server" "$(awk -v n="$n" -v s="$load_secs" 'BEGIN { printf "%.0f", n / s }')"

	sleep "$settle"
	memory "$n" "$server" "${pids[0]}" loaded
	record "$n" go-heap-loaded "$server" \
		"$(curl -sf "http://$ep0/metrics" | awk '/^go_memstats_heap_alloc_bytes / { printf "%.0f", $2 }')"

	local mid=$((n / 2)) r count t
	count="$(ctl --endpoints "$ep0" --command-timeout=120s get "$(key "$mid")" "$(key $((mid + 1000)))" --limit 1 -w json | grep -o '"count":[0-9]*' | cut -d: -f2)"
	[[ $count == 1000 ]] || die "the range [$(key "$mid"), $(key $((mid + 1000)))) holds $count keys on $server, not 1000"
	lock_take
	t="$(bench_adr puts --workload put --distribution uniform --key-space "$n" --total "$puts")"
	record "$n" full-put-writes-s "$server" "$(awk -v n="$puts" -v s="$t" 'BEGIN { printf "%.0f", n / s }')"

	read -r p50 p99 r <<<"$(bench_etcd get range "$(key "$mid")" --consistency l --total "$gets")"
	record "$n" get-p50-ms "$server" "$p50"
	record "$n" get-p99-ms "$server" "$p99"
	read -r p50 p99 r <<<"$(bench_etcd range1000 range "$(key "$mid")" "$(key $((mid + 1000)))" --consistency l --total "$ranges")"
	record "$n" range1000-p50-ms "$server" "$p50"
	lock_release
	record "$n" range1000-p99-ms "$server" "$p99"

	record "$n" db-bytes "$server" "$(stat -c %s "$work/data/m0/member/snap/db")"
	record "$n" data-dir-bytes "$server" "$(du -sb "$work/data/m0" | cut -f1)"

	# Crash with about SNAP-2000 entries after the last snapshot.
	local idx top last=0
	idx="$(status_field "$ep0" raftIndex)"
	if [[ $server == etcd ]]; then last="$(last_snapshot)"; else last=$((idx / snap * snap)); fi
	top=$((snap - 2000 - (idx - last)))
	lock_take
	if ((top > 0)); then
		bench_adr topup --workload put --distribution uniform --key-space "$n" --total "$top" >/dev/null
	fi
	idx="$(status_field "$ep0" raftIndex)"
	record "$n" crash-raft-index "$server" "$idx"
	if [[ $server == etcd ]]; then record "$n" crash-last-snapshot "$server" "$(last_snapshot)"; fi
	kill -KILL "${pids[0]}"
	wait "${pids[0]}" 2>/dev/null || true
	local t0 t1
	t0="$(now)"
	start_member "$server" m0 0 "m0=$peer0" new
	pids=("$started_pid")
	wait_get "$ep0" "${pids[0]}"
	t1="$(now)"
	lock_release
	record "$n" crash-restart-s "$server" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')"
	memory "$n" "$server" "${pids[0]}" restarted

	# Snapshot send to a new member.
	if ! ctl --endpoints "$ep0" member add m1 --peer-urls="$peer1" >"$work/member-add.out" 2>&1; then
		echo "$prog: $server: etcdctl member add failed: $(tail -1 "$work/member-add.out")" >&2
		record "$n" snapshot-catchup-s "$server" unsupported
	else
		local rev0 deadline=$((SECONDS + 1800))
		rev0="$(status_field "$ep0" revision)"
		lock_take
		t0="$(now)"
		start_member "$server" m1 1 "m0=$peer0,m1=$peer1" existing
		pids+=("$started_pid")
		until [[ "$(status_field "$ep1" revision 2>/dev/null || true)" == "$rev0" ]]; do
			kill -0 "$started_pid" 2>/dev/null || die "$server m1 exited; see $work/m1.log"
			((SECONDS < deadline)) || die "$server m1 did not catch up within 1800 s"
			sleep 0.1
		done
		t1="$(now)"
		lock_release
		record "$n" snapshot-catchup-s "$server" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')"
	fi
	stop_members 30
	rm -rf "$work/data"
}

# status_json EP prints etcdctl endpoint status -w json of EP.
status_json() { ctl --endpoints "$1" --command-timeout=2s endpoint status -w json; }

# json_field JSON FIELD prints the first numeric FIELD of JSON.
json_field() { grep -o "\"$2\":[0-9]*" <<<"$1" | head -1 | cut -d: -f2; }

# stop_one SERVER I stops member mI (pids[I]) with SIGTERM, failing if it
# still runs 30 s later.
stop_one() {
	local server=$1 i=$2 deadline=$((SECONDS + 30))
	kill -TERM "${pids[i]}"
	while kill -0 "${pids[i]}" 2>/dev/null; do
		((SECONDS < deadline)) || die "$server m$i did not stop within 30 s of SIGTERM"
		sleep 0.1
	done
	wait "${pids[i]}" 2>/dev/null || true
}

# run_rejoin SERVER N: the rejoin phase (see the header).
run_rejoin() {
	local server=$1 n=$2 i p initial="" eps=()
	for i in 0 1 2; do
		for p in $((port_base + 10 * i)) $((port_base + 10 * i + 1)); do
			in_use "$p" && die "port $p is taken by another process; set PORT_BASE to use other ports"
		done
		initial+="${initial:+,}m$i=http://127.0.0.1:$((port_base + 10 * i + 1))"
		eps+=("127.0.0.1:$((port_base + 10 * i))")
	done
	rm -rf "$work/data" "$work"/m?.log
	mkdir -p "$work/data"
	echo "$prog: $server, $n keys, three members, rejoin" >&2

	pids=()
	for i in 0 1 2; do
		start_member "$server" "m$i" "$i" "$initial" new 1
		pids+=("$started_pid")
	done
	for i in 0 1 2; do wait_get "${eps[i]}" "${pids[i]}"; done
	bench_eps="http://${eps[0]},http://${eps[1]},http://${eps[2]}"
	load_keys "$server" "$n" lock_share

	# The member to wipe: a follower other than m0, which the puts go to.
	local st leader victim lead_i=-1
	for i in 0 1 2; do
		st="$(status_json "${eps[i]}")"
		leader="$(json_field "$st" leader)"
		if [[ "$(json_field "$st" member_id)" == "$leader" ]]; then lead_i=$i; fi
	done
	((lead_i >= 0)) || die "$server: no member reports itself the leader"
	victim=2
	if ((lead_i == 2)); then victim=1; fi
	local vname="m$victim" vep="${eps[victim]}"
	stop_one "$server" "$victim"
	rm -rf "${work:?}/data/$vname"
	bench_eps="http://${eps[0]},http://${eps[3 - victim]}"

	local marker="zz-rejoin" value="v-$n-$server-$RANDOM"
	lock_share
	bench_adr rejoin-puts --workload put --distribution uniform --key-space "$n" --total "$rejoin_puts" >/dev/null
	ctl --endpoints "${eps[0]}" put "$marker" "$value" >/dev/null
	# The leader's progress for the lost member still holds the index it
	# had matched, and raft's heartbeats carry min(match, commit): a member
	# with an empty log that gets one panics in both servers ("tocommit(I)
	# is out of range [lastIndex(0)]"). A new term resets every follower's
	# progress to nothing matched, so the leader is restarted first.
	stop_one "$server" "$lead_i"
	start_member "$server" "m$lead_i" "$lead_i" "$initial" new 1
	pids[lead_i]=$started_pid
	wait_get "${eps[lead_i]}" "${pids[lead_i]}"
	lock_release
	local rev0 idx0
	lead_i=-1
	for i in 0 1 2; do
		((i != victim)) || continue
		st="$(status_json "${eps[i]}")"
		if [[ "$(json_field "$st" member_id)" == "$(json_field "$st" leader)" ]]; then lead_i=$i; fi
	done
	((lead_i >= 0)) || die "$server: no member reports itself the leader after the restart"
	st="$(status_json "${eps[lead_i]}")"
	rev0="$(json_field "$st" revision)" idx0="$(json_field "$st" raftIndex)"
	((idx0 > snap + 5000)) ||
		die "$server: the leader's raft index $idx0 is not above SNAP+5000 ($((snap + 5000))), so its log may still start at index 1 and the member could catch up by log replay; load more keys or lower SNAP"
	record "$n" rejoin-leader-raft-index "$server" "$idx0"

	# A wiped etcd member rejoins with existing, an adrbench member with new.
	local state=new t0 t1 got
	if [[ $server == etcd ]]; then state=existing; fi
	lock_take
	t0="$(now)"
	start_member "$server" "$vname" "$victim" "$initial" "$state" 1
	pids[victim]=$started_pid
	deadline=$((SECONDS + 1800))
	while :; do
		got="$(status_field "$vep" revision 2>/dev/null || true)"
		if [[ $got == "$rev0" ]] &&
			[[ "$(ctl --endpoints "$vep" --command-timeout=2s get "$marker" --consistency=s --print-value-only 2>/dev/null)" == "$value" ]]; then
			break
		fi
		kill -0 "$started_pid" 2>/dev/null || die "$server $vname exited; see $work/$vname.log"
		((SECONDS < deadline)) || die "$server $vname did not catch up within 1800 s"
		sleep 0.1
	done
	t1="$(now)"
	lock_release
	record "$n" rejoin-catchup-s "$server" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')"

	# A snapshot, not a log replay: raft logs "restored snapshot [index: I,"
	# on the member that took one (etcd at info, adrbench at debug).
	local restored
	restored="$(grep -o 'restored snapshot \[index: [0-9]*' "$work/$vname.log" | tail -1 | grep -o '[0-9]*$' || true)"
	[[ -n $restored ]] || die "$server $vname caught up without restoring a snapshot (no \"restored snapshot\" in $work/$vname.log)"
	record "$n" rejoin-snapshot-index "$server" "$restored"
	record "$n" rejoin-member-db-bytes "$server" "$(stat -c %s "$work/data/$vname/member/snap/db")"
	if [[ $server == etcd ]]; then
		local sent
		sent="$(cat "$work"/m?.log | grep 'sent database snapshot to writer' | grep -o '"bytes":[0-9]*' | tail -1 | cut -d: -f2 || true)"
		[[ -n $sent ]] || die "etcd's leader logged no \"sent database snapshot to writer\"; see $work"
		record "$n" rejoin-snapshot-sent-bytes "$server" "$sent"
	fi
	stop_members 30
	rm -rf "$work/data"
}

echo "$prog: keys: ${keys_arr[*]}; servers: ${server_arr[*]}; phases: ${phase_arr[*]}; adrbench --log-backend $backend; --quota-backend-bytes $quota --snapshot-count $snap; $clients clients over $conns connections" >&2
: >"$work/all"
for n in "${keys_arr[@]}"; do
	for s in "${server_arr[@]}"; do
		for ph in "${phase_arr[@]}"; do
			case $ph in
			single) run_server "$s" "$n" ;;
			rejoin) run_rejoin "$s" "$n" ;;
			esac
		done
	done
done

printf '\nsingle: one member each; rejoin: three members, one wiped and restarted; %s-byte keys, %s-byte values; adrbench --log-backend %s; --snapshot-count %s\n' "$key_size" "$val_size" "$backend" "$snap"
awk -v settle="$settle" '
	{
		k = $1 SUBSEP $2
		if (!(k in seen)) { seen[k] = 1; rows[++nr] = k }
		v[k, $3] = $4
	}
	function get(k, s) { return ((k, s) in v) ? v[k, s] : "-" }
	function mib(x) { return (x == "-" || x == "unsupported") ? x : sprintf("%.1f", x / 1048576) }
	function ratio(a, b) { return (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b > 0) ? sprintf("%.2fx", a / b) : "-" }
	function line(name, e, a) { printf "%-10s %-34s %14s %14s %10s\n", n, name, e, a, ratio(a, e) }
	END {
		printf "%-10s %-34s %14s %14s %10s\n", "keys", "measure", "etcd", "adrbench", "adr/etcd"
		for (i = 1; i <= nr; i++) {
			split(rows[i], f, SUBSEP)
			n = f[1]; m = f[2]; e = get(rows[i], "etcd"); a = get(rows[i], "adrbench")
			if (m ~ /^(rss|rssanon|go-heap)-|bytes$/) {
				line(m " (MiB)", mib(e), mib(a))
			} else {
				line(m, e, a)
			}
			if (m == "rssanon-loaded") {
				ee = get(n SUBSEP "rssanon-empty", "etcd"); ae = get(n SUBSEP "rssanon-empty", "adrbench")
				pe = (e ~ /^[0-9]+$/ && ee ~ /^[0-9]+$/) ? sprintf("%.0f", (e - ee) / n) : "-"
				pa = (a ~ /^[0-9]+$/ && ae ~ /^[0-9]+$/) ? sprintf("%.0f", (a - ae) / n) : "-"
				line("rssanon-per-key (bytes, judged)", pe, pa)
				pe = (get(n SUBSEP "rss-loaded", "etcd") ~ /^[0-9]+$/) ? sprintf("%.0f", (get(n SUBSEP "rss-loaded", "etcd") - get(n SUBSEP "rss-empty", "etcd")) / n) : "-"
				pa = (get(n SUBSEP "rss-loaded", "adrbench") ~ /^[0-9]+$/) ? sprintf("%.0f", (get(n SUBSEP "rss-loaded", "adrbench") - get(n SUBSEP "rss-empty", "adrbench")) / n) : "-"
				line("rss-per-key (bytes)", pe, pa)
			}
		}
	}' "$work/all"
