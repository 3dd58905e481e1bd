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

// Region is a part of a markdown file that one command owns: the text
// between "<!-- Name:begin -->" and "<!-- Name:end -->".
type Region struct {
	Name    string
	Heading string // written above the markers when the file has none yet
}

// CompareRegion is the region of the peer comparison.
var CompareRegion = Region{Name: "compare", Heading: heading}

func (r Region) begin() string { return "<!-- " + r.Name + ":begin -->" }
func (r Region) end() string   { return "<!-- " + r.Name + ":end -->" }

// ReplaceMarked returns doc with the text between the compare markers
// replaced by body (see Region.Replace).
func ReplaceMarked(doc []byte, body string) ([]byte, error) {
	return CompareRegion.Replace(doc, body)
}

// Replace returns doc with the text between the region's markers replaced
// by body, leaving everything else as it is. A doc without the markers gets
// the heading and the marked region appended.
func (r Region) Replace(doc []byte, body string) ([]byte, error) {
	begin, end := r.begin(), r.end()
	region := "\n" + begin + "\n\n" + body + "\n" + end
	b := bytes.Index(doc, []byte(begin))
	e := bytes.Index(doc, []byte(end))
	switch {
	case b < 0 && e < 0:
		out := bytes.TrimRight(doc, "\n")
		out = append(out, "\n\n"+r.Heading+"\n"+region+"\n"...)
		return out, nil
	case b < 0 || e < 0 || e < b || bytes.Count(doc, []byte(begin)) != 1 || bytes.Count(doc, []byte(end)) != 1:
		return nil, fmt.Errorf("compare: the markers %s and %s are not one pair in order", begin, end)
	}
	var out []byte
	out = append(out, doc[:b+len(begin)]...)
	out = append(out, "\n\n"+body+"\n"...)
	out = append(out, doc[e:]...)
	return out, nil
}

// UpdateDoc rewrites the compare region of the file at path with body (see
// Region.Update).
func UpdateDoc(path, body string) error {
	return CompareRegion.Update(path, body)
}

// Update rewrites the region of the file at path with body: it reads the
// file, replaces the region and writes it back at once, so an edit of
// another part made meanwhile by someone else is kept unless it lands in
// the instant between the read and the write.
func (r Region) Update(path, body string) error {
	doc, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	out, err := r.Replace(doc, body)
	if err != nil {
		return err
	}
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	return os.WriteFile(path, out, info.Mode().Perm())
}
