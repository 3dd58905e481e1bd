package hoardredis_test

import (
	"os"
	"strings"
	"testing"
)

// The README shows the wiring of ExampleNewService, where go test runs it:
// its copy must stay the same text.
func TestREADMEShowsExampleService(t *testing.T) {
	example, err := os.ReadFile("example_service_test.go")
	must(t, err)
	readme, err := os.ReadFile("../../README.md")
	must(t, err)
	src := string(example)
	start := strings.Index(src, "// caches are one instance's caches")
	fn := strings.Index(src, "func newCaches(")
	if start < 0 || fn < start {
		t.Fatal("example_service_test.go no longer has the caches type and newCaches")
	}
	end := fn + strings.Index(src[fn:], "\n}\n") + len("\n}\n")
	if wiring := src[start:end]; !strings.Contains(string(readme), wiring) {
		t.Fatalf("README.md does not hold the wiring of ExampleNewService as it is now:\n%s", wiring)
	}
}
