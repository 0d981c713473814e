package results

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Resume reads the run in dir so that a run called name can carry on from
// it: nil (and no error) when dir holds no run yet, ErrOtherRun when it
// holds a run of another name.
func Resume(dir, name string) (*Run, error) {
	if _, err := os.Stat(filepath.Join(dir, RunFile)); errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	run, err := Read(dir)
	if err != nil {
		return nil, fmt.Errorf("resume %s: %w", dir, err)
	}
	if run.Name != name {
		return nil, fmt.Errorf("%w: %s holds run %q, the config is %q: give another --out", ErrOtherRun, dir, run.Name, name)
	}
	return run, nil
}

// Rewrite writes r into dir, replacing the run dir holds, so that a crash
// at any moment leaves either the old run.json or the new one, each with
// the files it names: Write fills a fresh directory inside dir, whose
// files are then renamed into place, run.json last, and dir is synced.
func Rewrite(dir string, r *Run) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("results: create %s: %w", dir, err)
	}
	tmp, err := os.MkdirTemp(dir, ".save-")
	if err != nil {
		return fmt.Errorf("results: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := Write(tmp, r); err != nil {
		return err
	}
	files, err := os.ReadDir(tmp)
	if err != nil {
		return fmt.Errorf("results: %w", err)
	}
	names := make([]string, 0, len(files))
	for _, f := range files {
		if f.Name() != RunFile {
			names = append(names, f.Name())
		}
	}
	for _, n := range append(names, RunFile) {
		if err := os.Rename(filepath.Join(tmp, n), filepath.Join(dir, n)); err != nil {
			return fmt.Errorf("results: %w", err)
		}
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("results: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("results: sync %s: %w", dir, err)
	}
	return nil
}
