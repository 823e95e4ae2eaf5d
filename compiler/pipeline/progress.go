package pipeline

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/hic-build/hic/compiler/report"

	"github.com/mattn/go-isatty"
)

// barWidth is the width of the progress bar in cells.
const barWidth = 30

// progress prints one line per finished spec, or redraws a bar on a terminal
// (printing only failures as lines).
type progress struct {
	w     io.Writer
	tty   bool
	total int
	start time.Time

	mu                                   sync.Mutex
	ndone, built, cached, failed, cancel int

	stop, stopped chan struct{} // end the bar's clock (terminal only)
}

// tick is how often the bar is redrawn on a terminal while nothing finishes.
const tick = time.Second

func newProgress(w io.Writer, total int) *progress {
	p := &progress{w: w, tty: w != nil && isTerminal(w), total: total, start: time.Now()}
	if p.tty {
		p.stop, p.stopped = make(chan struct{}), make(chan struct{})
		go p.clock()
	}
	return p
}

// clock redraws the bar every tick so its elapsed time moves.
func (p *progress) clock() {
	defer close(p.stopped)
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.mu.Lock()
			fmt.Fprintf(p.w, "\r\033[K%s", p.bar())
			p.mu.Unlock()
		}
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && (isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd()))
}

func (p *progress) done(s report.SpecReport) {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ndone++
	switch s.Status {
	case report.StatusBuilt:
		p.built++
	case report.StatusCached:
		p.cached++
	case report.StatusFailed:
		p.failed++
	case report.StatusCancelled:
		p.cancel++
	}
	line := p.line(s)
	if !p.tty {
		fmt.Fprintln(p.w, line)
		return
	}
	if s.Failed() {
		fmt.Fprintf(p.w, "\r\033[K%s\n", line)
	}
	fmt.Fprintf(p.w, "\r\033[K%s", p.bar())
}

// line is "[12/1200] built nginx:1.29-wolfi-runtime 1.2s sha256:...".
func (p *progress) line(s report.SpecReport) string {
	width := len(fmt.Sprint(p.total))
	status := s.Status
	if s.CachedFrom != "" {
		status += " (registry)"
	}
	out := fmt.Sprintf("[%*d/%d] %s %s %.1fs", width, p.ndone, p.total, status, s.Ref, float64(s.DurationMs)/1000)
	if s.ImageDigest != "" {
		out += " " + s.ImageDigest
	}
	if n := countFailing(s); n > 0 {
		out += " (" + count(n, "failing finding") + ")"
	}
	if s.Error != "" {
		out += ": " + s.Error
	}
	return out
}

func countFailing(s report.SpecReport) int {
	n := 0
	for _, f := range s.Findings {
		if f.Failing() {
			n++
		}
	}
	return n
}

func (p *progress) bar() string {
	fill := 0
	if p.total > 0 {
		fill = p.ndone * barWidth / p.total
	}
	return fmt.Sprintf("[%s%s] %d/%d  built %d  cached %d  failed %d  %s",
		strings.Repeat("=", fill), strings.Repeat(" ", barWidth-fill), p.ndone, p.total,
		p.built, p.cached, p.failed, time.Since(p.start).Round(time.Second))
}

// finish ends the bar's line.
func (p *progress) finish() {
	if p.w == nil || !p.tty {
		return
	}
	if p.stop != nil {
		close(p.stop)
		<-p.stopped
		p.stop = nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintln(p.w)
}
