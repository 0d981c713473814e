package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrScript reports a malformed etcdctl script.
var ErrScript = errors.New("bad etcdctl script")

// commandTimeout bounds each etcdctl command, watches included, so a server
// that never answers fails the test instead of hanging it.
const commandTimeout = 10 * time.Second

// Script is a parsed etcdctl script. The format, one step per line:
//
//	# a comment            copied into the transcript
//	put foo bar            etcdctl arguments, split like a shell would
//	txn <<EOF              the lines up to EOF are the command's stdin
//	@sort member list      directives come first: @sort sorts the output lines
//	@set=L lease grant 60  @set=NAME keeps the first hex id printed as $NAME
//	@lines=6 watch --rev=2 k   stop the command once it printed 6 lines
//	@bg=w watch --prefix k     start it in the background ...
//	@wait=w @lines=3           ... and print its first 3 lines here
//
// $NAME in arguments expands to a variable; EP0, EP1, ... are the members'
// endpoints. Every command gets --endpoints with all members unless it sets
// its own.
type Script struct {
	Steps []Step
}

// Step is one line of a script.
type Step struct {
	Text     string   // the line as written, for the transcript
	Comment  bool     // a comment line
	Args     []string // etcdctl arguments before expansion
	Stdin    string
	Sort     bool
	Set      string // variable to capture a hex id into
	Lines    int    // stop after this many stdout lines; 0 means run to exit
	Bg, Wait string // background watcher to start, or to collect
}

// ParseScript parses the format documented on Script.
func ParseScript(src string) (*Script, error) {
	var s Script
	lines := strings.Split(src, "\n")
	for n := 0; n < len(lines); n++ {
		line := strings.TrimSpace(lines[n])
		if line == "" {
			continue
		}
		if strings.HasPrefix(line, "#") {
			s.Steps = append(s.Steps, Step{Text: line, Comment: true})
			continue
		}
		st := Step{Text: line}
		words, err := splitWords(line)
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", ErrScript, n+1, err)
		}
		for len(words) > 0 && strings.HasPrefix(words[0], "@") {
			key, val, _ := strings.Cut(words[0][1:], "=")
			switch key {
			case "sort":
				st.Sort = true
			case "set":
				st.Set = val
			case "lines":
				if st.Lines, err = strconv.Atoi(val); err != nil || st.Lines <= 0 {
					return nil, fmt.Errorf("%w: line %d: @lines needs a positive count", ErrScript, n+1)
				}
			case "bg":
				st.Bg = val
			case "wait":
				st.Wait = val
			default:
				return nil, fmt.Errorf("%w: line %d: unknown directive %s", ErrScript, n+1, words[0])
			}
			words = words[1:]
		}
		if k := len(words); k > 0 && strings.HasPrefix(words[k-1], "<<") {
			end := strings.TrimPrefix(words[k-1], "<<")
			words = words[:k-1]
			var body []string
			for n++; n < len(lines) && strings.TrimSpace(lines[n]) != end; n++ {
				body = append(body, lines[n])
				st.Text += "\n" + lines[n]
			}
			if n == len(lines) {
				return nil, fmt.Errorf("%w: here-document ended by %q never ends", ErrScript, end)
			}
			st.Text += "\n" + end
			st.Stdin = strings.Join(body, "\n") + "\n"
		}
		if len(words) > 0 {
			st.Args = words
		}
		switch {
		case st.Wait != "" && len(st.Args) > 0:
			return nil, fmt.Errorf("%w: line %d: @wait takes no command", ErrScript, n+1)
		case st.Wait == "" && len(st.Args) == 0:
			return nil, fmt.Errorf("%w: line %d: no command", ErrScript, n+1)
		case st.Wait != "" && st.Lines == 0:
			return nil, fmt.Errorf("%w: line %d: @wait needs @lines", ErrScript, n+1)
		}
		s.Steps = append(s.Steps, st)
	}
	return &s, nil
}

// splitWords splits a line into words with shell-like single and double
// quotes and backslash escapes.
func splitWords(line string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	escaped := false
	for _, r := range line {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case r == '\\' && quote != '\'':
			escaped, inWord = true, true
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 || escaped {
		return nil, errors.New("unterminated quote or escape")
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// Runner runs scripts with one etcdctl binary against one cluster.
type Runner struct {
	Etcdctl   string   // path of etcdctl
	Endpoints []string // host:port of every member
	// Flags go before every command's own, e.g. etcdctl's --cacert,
	// --cert and --key for a cluster with TLS.
	Flags []string
}

var hexID = regexp.MustCompile(`\b[0-9a-f]{16}\b`)

// Run runs s and returns its normalized transcript (see Normalize): each
// step's text, then its stdout, its stderr lines prefixed "stderr: ", and
// "exit status N" when it failed. ctx bounds the whole script.
func (r Runner) Run(ctx context.Context, s *Script) (string, error) {
	vars := map[string]string{}
	for i, ep := range r.Endpoints {
		vars[fmt.Sprintf("EP%d", i)] = ep
	}
	bg := map[string]*proc{}
	defer func() {
		for _, p := range bg {
			p.stop()
		}
	}()
	var out strings.Builder
	for _, st := range s.Steps {
		if st.Comment {
			fmt.Fprintln(&out, st.Text)
			continue
		}
		if st.Wait != "" {
			p, ok := bg[st.Wait]
			if !ok {
				return out.String(), fmt.Errorf("%w: @wait=%s before its @bg", ErrScript, st.Wait)
			}
			delete(bg, st.Wait)
			fmt.Fprintf(&out, "$ wait %s\n", st.Wait)
			p.waitLines(ctx, st.Lines)
			p.stop()
			p.truncate(st.Lines)
			out.WriteString(p.transcript(st.Sort))
			continue
		}
		args, err := r.expand(st.Args, vars)
		if err != nil {
			return out.String(), err
		}
		if st.Bg != "" {
			fmt.Fprintf(&out, "$ etcdctl %s &\n", st.Text)
		} else {
			fmt.Fprintf(&out, "$ etcdctl %s\n", st.Text)
		}
		p, err := r.start(args, st.Stdin)
		if err != nil {
			return out.String(), err
		}
		if st.Bg != "" {
			bg[st.Bg] = p
			continue
		}
		if st.Lines > 0 {
			p.waitLines(ctx, st.Lines)
			p.stop()
			p.truncate(st.Lines)
		} else {
			p.waitExit(ctx)
		}
		if st.Set != "" {
			id := hexID.FindString(p.stdoutText())
			if id == "" {
				return out.String() + p.transcript(false), fmt.Errorf("%w: @set=%s: no id in the output of %q", ErrScript, st.Set, st.Text)
			}
			vars[st.Set] = id
		}
		out.WriteString(p.transcript(st.Sort))
	}
	return Normalize(out.String()), nil
}

func (r Runner) expand(words []string, vars map[string]string) ([]string, error) {
	var bad error
	args := make([]string, 0, len(words)+1)
	hasEndpoints := false
	for _, w := range words {
		w = os.Expand(w, func(name string) string {
			v, ok := vars[name]
			if !ok {
				bad = fmt.Errorf("%w: $%s is not set", ErrScript, name)
			}
			return v
		})
		hasEndpoints = hasEndpoints || strings.HasPrefix(w, "--endpoints")
		args = append(args, w)
	}
	if !hasEndpoints {
		args = append([]string{"--endpoints=" + strings.Join(r.Endpoints, ",")}, args...)
	}
	args = append(slices.Clone(r.Flags), args...)
	return args, bad
}

// proc is one running etcdctl.
type proc struct {
	cmd    *exec.Cmd
	done   chan struct{} // closed when cmd has exited and its output is read
	err    error
	mu     sync.Mutex
	stdout []string // complete lines so far
	grew   chan struct{}
	stderr bytes.Buffer
}

func (r Runner) start(args []string, stdin string) (*proc, error) {
	cmd := exec.Command(r.Etcdctl, args...)
	// ETCDCTL_ENDPOINTS and friends from the caller's environment would
	// conflict with --endpoints; etcdctl 3.4 refuses to run then.
	env := []string{"ETCDCTL_API=3"}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ETCDCTL_") {
			env = append(env, kv)
		}
	}
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	p := &proc{cmd: cmd, done: make(chan struct{}), grew: make(chan struct{})}
	cmd.Stderr = &p.stderr
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start etcdctl: %w", err)
	}
	go p.read(pipe)
	return p, nil
}

func (p *proc) read(pipe io.Reader) {
	sc := bufio.NewScanner(pipe)
	sc.Buffer(make([]byte, 64<<10), 8<<20)
	for sc.Scan() {
		p.mu.Lock()
		p.stdout = append(p.stdout, sc.Text())
		close(p.grew)
		p.grew = make(chan struct{})
		p.mu.Unlock()
	}
	p.err = p.cmd.Wait()
	close(p.done)
}

// waitLines waits until the command printed n lines, exited, or ran out of
// time.
func (p *proc) waitLines(ctx context.Context, n int) {
	timeout := time.NewTimer(commandTimeout)
	defer timeout.Stop()
	for {
		p.mu.Lock()
		got, grew := len(p.stdout), p.grew
		p.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-grew:
		case <-p.done:
			return
		case <-timeout.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

func (p *proc) waitExit(ctx context.Context) {
	select {
	case <-p.done:
	case <-time.After(commandTimeout):
		p.stop()
	case <-ctx.Done():
		p.stop()
	}
}

// stop ends the command if it still runs and waits for its output.
func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	<-p.done
	p.err = nil // killed on purpose: the exit status says nothing
}

// truncate keeps the first n lines of stdout: lines that arrived between
// the n-th and the kill depend on timing, not on the server.
func (p *proc) truncate(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.stdout) > n {
		p.stdout = p.stdout[:n]
	}
}

func (p *proc) stdoutText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.stdout, "\n")
}

// transcript is what the command printed. Lines clientv3 logs as JSON on
// stderr (retries, balancer notes) are timing noise and are dropped.
func (p *proc) transcript(sorted bool) string {
	<-p.done
	p.mu.Lock()
	lines := slices.Clone(p.stdout)
	p.mu.Unlock()
	for l := range strings.Lines(p.stderr.String()) {
		l = strings.TrimRight(l, "\n")
		if strings.HasPrefix(l, `{"level":`) {
			continue
		}
		lines = append(lines, "stderr: "+l)
	}
	if sorted {
		// Sort what stays after masking, so that the order does not depend
		// on which port or id each member got.
		for i := range lines {
			lines[i] = Normalize(lines[i])
		}
		slices.Sort(lines)
	}
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l + "\n")
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		fmt.Fprintf(&b, "exit status %d\n", ee.ExitCode())
	}
	return b.String()
}

// normalizers mask what legitimately differs between two runs of a script
// and between two servers: ports, member/lease/cluster ids, versions,
// database sizes, raft terms and indexes, timings and TTL countdowns. They
// are applied in order.
var normalizers = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`127\.0\.0\.1:\d+`), "HOST:PORT"},
	{regexp.MustCompile(`"(cluster_id|member_id|raft_term|ID|id)":\d+`), `"$1":N`},
	{regexp.MustCompile(`\b[0-9a-f]{10,16}\b`), "ID"},
	{regexp.MustCompile(`\b\d+\.\d+\.\d+\b`), "VERSION"},
	{regexp.MustCompile(`\b\d+(\.\d+)? [kMG]?B\b`), "SIZE"},
	{regexp.MustCompile(`(true|false), (true|false), \d+, \d+, \d+,`), "$1, $2, TERM, INDEX, APPLIED,"},
	{regexp.MustCompile(`took = \S+`), "took = DURATION"},
	{regexp.MustCompile(`remaining\(\d+s\)`), "remaining(Ns)"},
}

// attachedKeys is the key list `lease timetolive --keys` prints. etcd
// keeps a lease's keys in a Go map, so it prints them in a different order
// from run to run; Normalize sorts them.
var attachedKeys = regexp.MustCompile(`attached keys\(\[([^\]]*)\]\)`)

// Normalize masks run-specific details of a transcript.
func Normalize(transcript string) string {
	for _, n := range normalizers {
		transcript = n.re.ReplaceAllString(transcript, n.with)
	}
	return attachedKeys.ReplaceAllStringFunc(transcript, func(m string) string {
		keys := strings.Fields(attachedKeys.FindStringSubmatch(m)[1])
		slices.Sort(keys)
		return "attached keys([" + strings.Join(keys, " ") + "])"
	})
}
