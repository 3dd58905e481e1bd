package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// result is what a scenario found: a table for people, data for --json,
// and the promises it checked.
type result struct {
	Name     string    `json:"name"`
	Title    string    `json:"title"`
	Data     any       `json:"results"`
	Promises []promise `json:"promises"`
	// Skipped says why the scenario did not run, on this demo's setup;
	// a skipped scenario breaks no promise.
	Skipped string `json:"skipped,omitempty"`

	header []string
	rows   [][]string
	notes  []string // printed under the table
}

// promise is something a pattern promises, checked by a scenario; a broken
// one makes the demo exit non-zero.
type promise struct {
	What string `json:"what"`
	Kept bool   `json:"kept"`
	Got  string `json:"got"`
}

func (r *result) row(cells ...any) {
	s := make([]string, len(cells))
	for i, c := range cells {
		s[i] = cell(c)
	}
	r.rows = append(r.rows, s)
}

func (r *result) promise(what string, kept bool, got string, args ...any) {
	r.Promises = append(r.Promises, promise{What: what, Kept: kept, Got: fmt.Sprintf(got, args...)})
}

func (r *result) ok() bool {
	for _, p := range r.Promises {
		if !p.Kept {
			return false
		}
	}
	return true
}

func cell(c any) string {
	switch v := c.(type) {
	case string:
		return v
	case time.Duration:
		return fmtDuration(v)
	case int64:
		return fmtInt(v)
	case int:
		return fmtInt(int64(v))
	case float64:
		return fmt.Sprintf("%.1f%%", 100*v)
	default:
		return fmt.Sprint(v)
	}
}

// fmtInt writes n with thousands separators.
func fmtInt(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func fmtDuration(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
	case d >= 10*time.Microsecond:
		return fmt.Sprintf("%.0fµs", float64(d)/float64(time.Microsecond))
	default:
		return fmt.Sprintf("%.1fµs", float64(d)/float64(time.Microsecond))
	}
}

// note adds a line printed under the table.
func (r *result) note(format string, args ...any) {
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

// print writes the result as a table, its notes, then its promises; a
// skipped scenario, its title and why.
func (r *result) print(w io.Writer) {
	fmt.Fprintf(w, "\n%s\n", r.Title)
	if r.Skipped != "" {
		fmt.Fprintf(w, "  skipped: %s\n", r.Skipped)
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	line := func(cells []string) {
		fmt.Fprintf(tw, "  %s\t\n", strings.Join(cells, "\t"))
	}
	line(r.header)
	under := make([]string, len(r.header))
	for i, h := range r.header {
		under[i] = strings.Repeat("-", len([]rune(h)))
	}
	line(under)
	for _, row := range r.rows {
		line(row)
	}
	_ = tw.Flush()
	for _, n := range r.notes {
		fmt.Fprintf(w, "  %s\n", n)
	}
	for _, p := range r.Promises {
		mark := "ok    "
		if !p.Kept {
			mark = "BROKEN"
		}
		fmt.Fprintf(w, "  %s %s: %s\n", mark, p.What, p.Got)
	}
}
