module example.com/broken

go 1.26

require go.etcd.io/raft/v3 v3.0.0

replace go.etcd.io/raft/v3 => ./fakeraft
