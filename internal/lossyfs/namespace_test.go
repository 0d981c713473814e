package lossyfs

import (
	"os"
	"testing"
)

// TestLossyNamespaceDirSync checks the strict model: names change durably only
// once their directory is fsynced; contents follow the file model.
func TestLossyNamespaceDirSync(t *testing.T) {
	write := func(o fileOps, name, content string, sync bool) {
		f := o.open(name, os.O_CREATE|os.O_RDWR|os.O_TRUNC)
		o.writeAt(f, content, 0)
		if sync {
			o.fsync(f)
		}
		f.Close()
	}
	rename := func(o fileOps, from, to string) {
		if err := os.Rename(o.m.path(from), o.m.path(to)); err != nil {
			o.t.Fatal(err)
		}
	}
	remove := func(o fileOps, name string) {
		if err := os.Remove(o.m.path(name)); err != nil {
			o.t.Fatal(err)
		}
	}
	mkdir := func(o fileOps, name string) {
		if err := os.Mkdir(o.m.path(name), 0o700); err != nil {
			o.t.Fatal(err)
		}
	}
	tests := []struct {
		name   string
		steps  func(o fileOps)
		before []want
		after  []want
	}{
		{
			name:   "a synced file without a synced directory is gone",
			steps:  func(o fileOps) { write(o, "a", "data", true) },
			before: []want{{name: "a", content: "data"}},
			after:  []want{{name: "a", missing: true}},
		},
		{
			name: "a synced file in a synced directory stays",
			steps: func(o fileOps) {
				write(o, "a", "data", true)
				o.syncDir(".")
			},
			before: []want{{name: "a", content: "data"}},
			after:  []want{{name: "a", content: "data"}},
		},
		{
			name: "a name made durable keeps only synced contents",
			steps: func(o fileOps) {
				write(o, "a", "data", false)
				o.syncDir(".")
			},
			before: []want{{name: "a", content: "data"}},
			after:  []want{{name: "a", content: ""}},
		},
		{
			name: "a new directory needs its parent synced",
			steps: func(o fileOps) {
				mkdir(o, "d")
				write(o, "d/a", "data", true)
				o.syncDir("d")
			},
			before: []want{{name: "d/a", content: "data"}},
			after:  []want{{name: "d/a", missing: true}},
		},
		{
			name: "a new directory with its parent synced keeps its synced entries",
			steps: func(o fileOps) {
				mkdir(o, "d")
				o.syncDir(".")
				write(o, "d/a", "data", true)
				o.syncDir("d")
				write(o, "d/b", "lost", true)
			},
			before: []want{{name: "d/a", content: "data"}, {name: "d/b", content: "lost"}},
			after:  []want{{name: "d/a", content: "data"}, {name: "d/b", missing: true}},
		},
		{
			name: "write, sync, rename, sync directory: the durable replace",
			steps: func(o fileOps) {
				write(o, "id", "old", true)
				o.syncDir(".")
				write(o, "id.tmp", "new", true)
				rename(o, "id.tmp", "id")
				o.syncDir(".")
			},
			before: []want{{name: "id", content: "new"}, {name: "id.tmp", missing: true}},
			after:  []want{{name: "id", content: "new"}, {name: "id.tmp", missing: true}},
		},
		{
			name: "a rename over a file without a directory sync is undone",
			steps: func(o fileOps) {
				write(o, "id", "old", true)
				o.syncDir(".")
				write(o, "id.tmp", "new", true)
				o.syncDir(".")
				rename(o, "id.tmp", "id")
			},
			before: []want{{name: "id", content: "new"}, {name: "id.tmp", missing: true}},
			after:  []want{{name: "id", content: "old"}, {name: "id.tmp", content: "new"}},
		},
		{
			name: "an unlink without a directory sync is undone",
			steps: func(o fileOps) {
				write(o, "a", "data", true)
				o.syncDir(".")
				remove(o, "a")
			},
			before: []want{{name: "a", missing: true}},
			after:  []want{{name: "a", content: "data"}},
		},
		{
			name: "an unlink made durable",
			steps: func(o fileOps) {
				write(o, "a", "data", true)
				o.syncDir(".")
				remove(o, "a")
				o.syncDir(".")
			},
			before: []want{{name: "a", missing: true}},
			after:  []want{{name: "a", missing: true}},
		},
		{
			name: "a rename across directories needs both synced",
			steps: func(o fileOps) {
				mkdir(o, "x")
				mkdir(o, "y")
				o.syncDir(".")
				write(o, "x/a", "data", true)
				o.syncDir("x")
				rename(o, "x/a", "y/a")
				o.syncDir("y")
			},
			before: []want{{name: "x/a", missing: true}, {name: "y/a", content: "data"}},
			after:  []want{{name: "x/a", content: "data"}, {name: "y/a", missing: true}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := mountFS(t, Options{Namespace: NamespaceDirSync})
			o := fileOps{t: t, m: m}
			tc.steps(o)
			o.check("before the cut", tc.before)
			m.cut(t)
			o.check("after the cut", tc.after)
			o.m = &mounted{dir: m.backing}
			o.check("in the backing directory", tc.after)
			if _, err := os.Stat(o.m.path(trashName)); !os.IsNotExist(err) {
				t.Errorf("the trash is still in the backing directory after the cut: %v", err)
			}
		})
	}
}

// TestLossyTrashIsHidden checks that the directory the strict model keeps
// removed entries in cannot be seen or touched through the mount.
func TestLossyTrashIsHidden(t *testing.T) {
	m := mountFS(t, Options{Namespace: NamespaceDirSync})
	if err := os.WriteFile(m.path("a"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(m.path("a")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(m.backing + "/" + trashName); err != nil {
		t.Fatalf("the removed file is not in the trash: %v", err)
	}
	ents, err := os.ReadDir(m.dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 0 {
		t.Errorf("mount root lists %d entries, want none: %v", len(ents), ents)
	}
	if _, err := os.Stat(m.path(trashName)); !os.IsNotExist(err) {
		t.Errorf("stat of the trash through the mount: %v, want not found", err)
	}
	if err := os.Mkdir(m.path(trashName), 0o700); err == nil {
		t.Errorf("mkdir of the trash's name through the mount succeeded")
	}
}
