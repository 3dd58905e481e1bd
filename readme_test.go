package hoard_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// compiledMark precedes each Go snippet of the README: the file holding
// it and the names of its regions, each between "// readme:begin <name>"
// and "// readme:end" in that file, where go test compiles and runs it.
var compiledMark = regexp.MustCompile(`^<!-- compiled: (\S+)((?: [\w-]+)+) -->$`)

// Every Go snippet of the README is code an Example runs, copied: a
// snippet that no longer compiles or no longer does what it says fails
// here, not in a reader's editor.
func TestREADMESnippetsAreCompiledExamples(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(readme), "\n")
	snippets := 0
	for i := 0; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != "```go" {
			continue
		}
		if lines[i] != "```go" {
			t.Errorf("README.md:%d: an indented Go snippet, which cannot be a compiled example's copy", i+1)
			continue
		}
		end := i + 1
		for end < len(lines) && lines[end] != "```" {
			end++
		}
		block := strings.Join(lines[i+1:end], "\n") + "\n"
		mark := ""
		if i > 0 {
			mark = lines[i-1]
		}
		m := compiledMark.FindStringSubmatch(mark)
		if m == nil {
			t.Errorf("README.md:%d: a Go snippet without a <!-- compiled: file region... --> line before it", i+1)
			i = end
			continue
		}
		snippets++
		checkSnippet(t, i+1, block, m[1], strings.Fields(m[2]))
		i = end
	}
	if snippets == 0 {
		t.Fatal("README.md has no compiled snippet")
	}
}

// checkSnippet checks that block is the regions of file, in order, with an
// import block first whose paths file imports.
func checkSnippet(t *testing.T, line int, block, file string, regions []string) {
	t.Helper()
	src, err := os.ReadFile(filepath.FromSlash(file))
	if err != nil {
		t.Errorf("README.md:%d: %v", line, err)
		return
	}
	if rest, ok := strings.CutPrefix(block, "import (\n"); ok {
		imports, after, _ := strings.Cut(rest, "\n)\n")
		for _, imp := range strings.Split(imports, "\n") {
			if imp = strings.TrimSpace(imp); imp != "" && !strings.Contains(string(src), "\t"+imp+"\n") {
				t.Errorf("README.md:%d: %s does not import %s", line, file, imp)
			}
		}
		block = strings.TrimPrefix(after, "\n")
	}
	var want []string
	for _, name := range regions {
		_, body, ok := strings.Cut(string(src), "// readme:begin "+name+"\n")
		body, _, ok2 := strings.Cut(body, "// readme:end\n")
		if !ok || !ok2 {
			t.Errorf("README.md:%d: %s has no region %q", line, file, name)
			return
		}
		want = append(want, dedent(strings.TrimRight(body, "\n\t")+"\n"))
	}
	if w := strings.Join(want, "\n"); block != w {
		t.Errorf("README.md:%d: the snippet differs from %s %v as it is now:\n%s", line, file, regions, w)
	}
}

// dedent removes the tabs every line of s starts with.
func dedent(s string) string {
	lines := strings.Split(s, "\n")
	common := -1
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		n := len(l) - len(strings.TrimLeft(l, "\t"))
		if common < 0 || n < common {
			common = n
		}
	}
	for i, l := range lines {
		if len(l) >= common && common > 0 {
			lines[i] = l[common:]
		}
	}
	return strings.Join(lines, "\n")
}
