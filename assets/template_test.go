package assets

import (
	"errors"
	"html/template"
	"strings"
	"testing"
)

func TestTemplateFunc(t *testing.T) {
	s := mustBuild(t, files("css/site.css", "body{}", "js/app.js", "go()"), nil)
	tmpl := template.Must(template.New("page").Funcs(s.FuncMap()).Parse(
		`<link rel="stylesheet" href="{{ asset "css/site.css" }}"><script src="{{ asset "js/app.js" }}"></script>`))
	var b strings.Builder
	if err := tmpl.Execute(&b, nil); err != nil {
		t.Fatal(err)
	}
	want := `<link rel="stylesheet" href="/static/css/site.` + short("body{}") + `.css"><script src="/static/js/app.` + short("go()") + `.js"></script>`
	if b.String() != want {
		t.Errorf("got  %s\nwant %s", b.String(), want)
	}

	q := mustBuild(t, files("js/app.js", "go()"), &Options{Naming: HashInQuery, Prefix: "https://cdn.example.com/s/"})
	b.Reset()
	tmpl = template.Must(template.New("q").Funcs(q.FuncMap()).Parse(`<script src="{{ asset "js/app.js" }}"></script>`))
	if err := tmpl.Execute(&b, nil); err != nil {
		t.Fatal(err)
	}
	if want := `<script src="https://cdn.example.com/s/js/app.js?v=` + short("go()") + `"></script>`; b.String() != want {
		t.Errorf("got  %s\nwant %s", b.String(), want)
	}
}

func TestTemplateFuncUnknownAsset(t *testing.T) {
	s := mustBuild(t, files("css/site.css", "body{}"), nil)
	tmpl := template.Must(template.New("page").Funcs(s.FuncMap()).Parse(`<link href="{{ asset "css/nope.css" }}">`))
	var b strings.Builder
	err := tmpl.Execute(&b, nil)
	if !errors.Is(err, ErrUnknownAsset) {
		t.Fatalf("err = %v, want ErrUnknownAsset", err)
	}
	if !strings.Contains(err.Error(), `hoard: assets: unknown asset "css/nope.css"`) {
		t.Errorf("err = %q", err)
	}
	if _, err := s.URL("/css/site.css"); !errors.Is(err, ErrUnknownAsset) {
		t.Errorf("URL with a leading slash: %v", err)
	}
	if _, err := s.Content("css/nope.css"); !errors.Is(err, ErrUnknownAsset) {
		t.Errorf("Content: %v", err)
	}
}
