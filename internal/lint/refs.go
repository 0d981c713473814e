package lint

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// References says where CheckReferences looks and what it lets pass.
type References struct {
	Root string
	// Skip are folders (relative to Root) not read at all: generated
	// output, test fixtures.
	Skip []string
	// Generated are paths that the tool creates when it runs, so a fresh
	// clone does not have them; a reference under one is not checked.
	Generated []string
}

// ProjectReferences is adrbench's: run and qualification directories are
// made by the tool, testdata holds fixtures, and this package's own
// sources name the paths of its broken test module.
func ProjectReferences(root string) References {
	return References{
		Root:      root,
		Skip:      []string{".git", "testdata", "node_modules", "results/runs", "internal/lint"},
		Generated: []string{"results/runs", "results/qualify"},
	}
}

var (
	mdLink = regexp.MustCompile(`\]\(([^()\s]+)\)`)
	bareMD = regexp.MustCompile(`(?:^|[^A-Za-z0-9_./-])([A-Za-z0-9_-]+\.md)\b`)
)

// CheckReferences reads every Go and Markdown file under r.Root and reports
// references to files that do not exist.
func CheckReferences(r References) ([]Violation, error) {
	tops, err := topFolders(r.Root)
	if err != nil {
		return nil, err
	}
	docs, err := documentNames(r)
	if err != nil {
		return nil, err
	}
	pathRef := regexp.MustCompile(`(?:^|[^A-Za-z0-9_./-])((?:` + strings.Join(tops, "|") + `)/[A-Za-z0-9_./-]*)`)
	var out []Violation
	err = filepath.WalkDir(r.Root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(r.Root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel != "." && (slices.Contains(r.Skip, rel) || slices.Contains(r.Skip, d.Name())) {
				return filepath.SkipDir
			}
			return nil
		}
		isMD := strings.HasSuffix(path, ".md")
		if !isMD && !strings.HasSuffix(path, ".go") {
			return nil
		}
		vs, err := r.checkFile(path, rel, isMD, pathRef, docs)
		out = append(out, vs...)
		return err
	})
	return out, err
}

func (r References) checkFile(path, rel string, isMD bool, pathRef *regexp.Regexp, docs map[string]bool) ([]Violation, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Violation
	dir := filepath.Dir(path)
	report := func(line int, ref, why string) {
		out = append(out, Violation{Pos: fmt.Sprintf("%s:%d", rel, line), Rule: "reference", Msg: fmt.Sprintf("%q %s", ref, why)})
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if isMD {
			for _, m := range mdLink.FindAllStringSubmatch(line, -1) {
				target := m[1]
				if strings.Contains(target, "://") || strings.HasPrefix(target, "#") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				target, _, _ = strings.Cut(target, "#")
				base := dir
				if strings.HasPrefix(target, "/") {
					base = r.Root
				}
				if !exists(filepath.Join(base, target)) {
					report(n, m[1], "is a link to a file that does not exist")
				}
			}
		}
		for _, m := range pathRef.FindAllStringSubmatch(line, -1) {
			ref := strings.TrimRight(m[1], ".")
			if ref == "" || r.generated(ref) || !looksLikeFile(ref) {
				continue
			}
			if !exists(filepath.Join(r.Root, ref)) && !exists(filepath.Join(dir, ref)) {
				report(n, ref, "names a path the repository does not have")
			}
		}
		for _, m := range bareMD.FindAllStringSubmatch(line, -1) {
			if !docs[m[1]] {
				report(n, m[1], "names a document the repository does not have")
			}
		}
	}
	return out, sc.Err()
}

// looksLikeFile tells a path from a label that happens to start with a
// folder's name ("adr/ssd-2015", "configs/op"): a file has an extension,
// and a folder is written with its trailing slash.
func looksLikeFile(ref string) bool {
	return strings.HasSuffix(ref, "/") || filepath.Ext(ref) != ""
}

func (r References) generated(ref string) bool {
	return slices.ContainsFunc(r.Generated, func(g string) bool { return within(strings.TrimSuffix(ref, "/"), g) })
}

// documentNames are the names of the Markdown files in the repository: a
// document named without its folder must be one of them.
func documentNames(r References) (map[string]bool, error) {
	names := map[string]bool{}
	err := filepath.WalkDir(r.Root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(r.Root, path)
		if d.IsDir() && rel != "." && (slices.Contains(r.Skip, filepath.ToSlash(rel)) || slices.Contains(r.Skip, d.Name())) {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(d.Name(), ".md") {
			names[d.Name()] = true
		}
		return nil
	})
	return names, err
}

// topFolders lists the repository's visible top-level folders: a path
// that starts with one of them is a reference into the repository.
func topFolders(root string) ([]string, error) {
	ents, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	var tops []string
	for _, e := range ents {
		if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
			tops = append(tops, regexp.QuoteMeta(e.Name()))
		}
	}
	if len(tops) == 0 {
		return nil, fmt.Errorf("%s has no folders", root)
	}
	return tops, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
