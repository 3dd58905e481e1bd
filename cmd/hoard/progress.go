package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// progress shows a scenario's live status while it runs: one line
// rewritten in place on a terminal, else a plain line each second.
type progress struct {
	w    io.Writer
	live bool
}

// isTerminal reports whether f is a character device (a terminal).
func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// start shows label and status() until the returned stop is called; stop
// shows the final status and returns once the goroutine has ended.
func (p progress) start(label string, status func() string) (stop func()) {
	if p.w == nil {
		return func() {}
	}
	began := time.Now()
	every := time.Second
	if p.live {
		every = 100 * time.Millisecond
	}
	line := func() string {
		return fmt.Sprintf("  %-28s %5.1fs  %s", label, time.Since(began).Seconds(), status())
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if p.live {
					fmt.Fprintf(p.w, "\r\033[K%s", line())
				} else {
					fmt.Fprintln(p.w, line())
				}
			}
		}
	})
	return sync.OnceFunc(func() {
		close(done)
		wg.Wait()
		if p.live {
			fmt.Fprintf(p.w, "\r\033[K%s\n", line())
		} else {
			fmt.Fprintln(p.w, line())
		}
	})
}
