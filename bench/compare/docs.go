package compare

import (
	"bytes"
	"fmt"
	"os"
)

// The markers that bound the region of docs/benchmarks.md this suite owns.
const (
	BeginMarker = "<!-- compare:begin -->"
	EndMarker   = "<!-- compare:end -->"
	heading     = "## Peer comparison (issue 9)"
)

// ReplaceMarked returns doc with the text between the markers replaced by
// body, leaving everything else as it is. A doc without the markers gets
// the heading and the marked region appended.
func ReplaceMarked(doc []byte, body string) ([]byte, error) {
	region := "\n" + BeginMarker + "\n\n" + body + "\n" + EndMarker
	b := bytes.Index(doc, []byte(BeginMarker))
	e := bytes.Index(doc, []byte(EndMarker))
	switch {
	case b < 0 && e < 0:
		out := bytes.TrimRight(doc, "\n")
		out = append(out, "\n\n"+heading+"\n"+region+"\n"...)
		return out, nil
	case b < 0 || e < 0 || e < b || bytes.Count(doc, []byte(BeginMarker)) != 1 || bytes.Count(doc, []byte(EndMarker)) != 1:
		return nil, fmt.Errorf("compare: the markers %s and %s are not one pair in order", BeginMarker, EndMarker)
	}
	var out []byte
	out = append(out, doc[:b+len(BeginMarker)]...)
	out = append(out, "\n\n"+body+"\n"...)
	out = append(out, doc[e:]...)
	return out, nil
}

// UpdateDoc rewrites the marked region of the file at path with body: it
// reads the file, replaces the region and writes it back at once, so an
// edit of another part made meanwhile by someone else is kept unless it
// lands in the instant between the read and the write.
func UpdateDoc(path, body string) error {
	doc, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	out, err := ReplaceMarked(doc, body)
	if err != nil {
		return err
	}
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	return os.WriteFile(path, out, info.Mode().Perm())
}
