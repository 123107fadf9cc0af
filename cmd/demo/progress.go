package main

import (
	"fmt"
	"os"
	"strings"
	"time"
)

// Redraw cadences of the progress display: a terminal line is cheap to
// redraw in place; a log (CI, a pipe) gets a line per tick, so fewer.
const (
	progressEveryTTY   = 100 * time.Millisecond
	progressEveryPlain = time.Second
	progressBarWidth   = 24
)

// isTerminal reports whether f is a character device, i.e. most likely a
// terminal. It needs no dependency (golang.org/x/term is not one of ours);
// the price is that /dev/null also counts, where the \r is harmless.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// showProgress draws the progress of the plain executions on f until the
// returned function is called, which draws it a last time and ends the
// line. On a terminal one line is redrawn in place with \r; otherwise a
// plain line is written every progressEveryPlain.
func (d *demo) showProgress(f *os.File) (stop func()) {
	tty := isTerminal(f)
	every := progressEveryPlain
	if tty {
		every = progressEveryTTY
	}
	quit, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		t := time.NewTicker(every)
		defer t.Stop()
		width := 0 // longest line drawn so far, to blank out leftovers
		draw := func(last bool) {
			line := d.progressLine()
			switch {
			case tty:
				width = max(width, len(line))
				fmt.Fprintf(f, "\r%-*s", width, line)
				if last {
					fmt.Fprintln(f)
				}
			default:
				fmt.Fprintln(f, line)
			}
		}
		for {
			select {
			case <-quit:
				draw(true)
				return
			case <-t.C:
				draw(false)
			}
		}
	}()
	return func() { close(quit); <-exited }
}

// progressLine renders "[#####.....] 212/400 terminal  created … elapsed".
func (d *demo) progressLine() string {
	done, total := int(d.terminal.Load()), d.cfg.n
	filled := min(progressBarWidth, done*progressBarWidth/max(total, 1))
	bar := strings.Repeat("#", filled) + strings.Repeat(".", progressBarWidth-filled)
	s := fmt.Sprintf("[%s] %d/%d terminal  created %d  completed %d  failed %d  retries %d  in-flight %d  %s",
		bar, done, total, d.c.created.Load(), d.c.completed.Load(), d.c.failed.Load(), d.c.retries.Load(),
		d.inFlight(), time.Since(d.start).Round(100*time.Millisecond))
	if n := d.c.errors.Load(); n > 0 {
		s += fmt.Sprintf("  errors %d", n)
	}
	return s
}
