package plots

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/adrbench/adrbench/results"
)

// ReportFile is the report's name inside a run directory.
const ReportFile = "report.html"

// RenderDir reads dir's run.json and redraws every figure and the report.
func RenderDir(dir string) ([]Figure, error) {
	run, err := results.Read(dir)
	if err != nil {
		return nil, err
	}
	return Render(dir, run)
}

// Render draws every figure of run into dir and writes dir/report.html. A
// figure the run has no data for is skipped, its old files removed, and
// the reason is in the returned Figure and the report.
func Render(dir string, run *results.Run) ([]Figure, error) {
	var figs []Figure
	for _, b := range builders() {
		fig := Figure{Name: b.name, Title: b.title, Caption: b.caption}
		cf, tab, skipped, err := b.build(run)
		if err != nil {
			return figs, err
		}
		fig.Table = tab
		if cf == nil {
			fig.Skipped = skipped
			for _, ext := range []string{".png", ".svg"} {
				if err := os.Remove(filepath.Join(dir, b.name+ext)); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return figs, fmt.Errorf("%w: %w", ErrRender, err)
				}
			}
		} else {
			files, err := cf.save(dir, b.name)
			if err != nil {
				return figs, err
			}
			fig.Files = files
		}
		figs = append(figs, fig)
	}
	if err := writeReport(filepath.Join(dir, ReportFile), run, figs); err != nil {
		return figs, err
	}
	return figs, nil
}
