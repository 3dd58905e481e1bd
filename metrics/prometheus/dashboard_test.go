package prometheus_test

import (
	"encoding/json"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
	hoardprom "github.com/hoard-cache/hoard/metrics/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// dashboardFile is the Grafana dashboard shipped beside the exporter.
const dashboardFile = "grafana/hoard.json"

// requiredPanels are the panels the dashboard is for (issue 18, item 7).
var requiredPanels = []string{
	"Hit rate per tier and cache", "Load latency", "Lock waits", "Lock wait duration",
	"Stale serves", "Breaker state", "Bus gaps and flushes",
}

// grafanaPanel is what the test reads of a panel; rows nest panels.
type grafanaPanel struct {
	ID         int             `json:"id"`
	Type       string          `json:"type"`
	Title      string          `json:"title"`
	Datasource *grafanaDS      `json:"datasource"`
	GridPos    map[string]int  `json:"gridPos"`
	Targets    []grafanaTarget `json:"targets"`
	Panels     []grafanaPanel  `json:"panels"`
}

type grafanaDS struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type grafanaTarget struct {
	Expr       string     `json:"expr"`
	RefID      string     `json:"refId"`
	Datasource *grafanaDS `json:"datasource"`
}

type grafanaDashboard struct {
	Title         string         `json:"title"`
	UID           string         `json:"uid"`
	SchemaVersion int            `json:"schemaVersion"`
	Panels        []grafanaPanel `json:"panels"`
	Templating    struct {
		List []struct {
			Name       string     `json:"name"`
			Type       string     `json:"type"`
			Query      any        `json:"query"`
			Definition string     `json:"definition"`
			Datasource *grafanaDS `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
}

// seriesLabels are the labels of each series name the exporter makes,
// from a registry it fed one event of every kind at every tier.
func seriesLabels(t *testing.T) map[string][]string {
	t.Helper()
	reg := prometheus.NewRegistry()
	rec, err := hoardprom.New(&hoardprom.Options{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	m := hoard.NewMetrics("every-event", rec)
	for _, ev := range hoard.Events() {
		for _, tier := range []hoard.Tier{hoard.TierNone, hoard.TierMemory, hoard.TierShared} {
			m.Add(ev, tier, 1)
		}
	}
	m.ObserveLoad(time.Millisecond, false)
	m.ObserveLoad(time.Millisecond, true)
	m.ObserveLockWait(time.Millisecond)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, mf := range mfs {
		var ls []string
		for _, lp := range mf.GetMetric()[0].GetLabel() {
			ls = append(ls, lp.GetName())
		}
		switch mf.GetType() {
		case dto.MetricType_HISTOGRAM:
			// A classic histogram is queried through its three series.
			out[mf.GetName()+"_bucket"] = append(slices.Clone(ls), "le")
			out[mf.GetName()+"_sum"] = ls
			out[mf.GetName()+"_count"] = ls
		default:
			out[mf.GetName()] = ls
		}
	}
	return out
}

// grafanaVars are the dashboard's variables, replaced by values that parse
// before a query is parsed.
var grafanaVars = strings.NewReplacer(
	"$__rate_interval", "5m", "$__interval", "1m", "$__range", "1h",
	"${cache}", "products", "$cache", "products",
)

// labelValuesQuery is a variable's query: label_values(metric, label).
var labelValuesQuery = regexp.MustCompile(`^label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)$`)

// literalAlternation matches a regexp matcher's value that is a list of
// plain names: "hit|negative_hit|miss", "shared|".
var literalAlternation = regexp.MustCompile(`^[a-z_]*(\|[a-z_]*)*$`)

// TestDashboardQueriesExporterMetrics checks that the Grafana dashboard is
// a dashboard Grafana imports (one Prometheus data source variable that
// every query uses, unique panel ids) and that every query it makes names
// series the exporter really makes, with their labels, and label values
// hoard really gives: event= a hoard.Event's name, tier= a hoard.Tier's,
// outcome= "ok" or "error".
func TestDashboardQueriesExporterMetrics(t *testing.T) {
	raw, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d grafanaDashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("%s is not JSON: %v", dashboardFile, err)
	}
	if d.Title == "" || d.UID == "" || d.SchemaVersion < 36 || len(d.Panels) == 0 {
		t.Fatalf("not a dashboard of Grafana 9 or later: title %q, uid %q, schemaVersion %d, %d panels", d.Title, d.UID, d.SchemaVersion, len(d.Panels))
	}

	series := seriesLabels(t)
	events := map[string]bool{}
	for _, ev := range hoard.Events() {
		events[ev.String()] = true
	}
	values := map[string]map[string]bool{
		"event":   events,
		"tier":    {"": true, hoard.TierMemory.String(): true, hoard.TierShared.String(): true},
		"outcome": {"ok": true, "error": true},
	}
	p := parser.NewParser(parser.Options{})

	// check parses one query and checks what it selects and groups by.
	check := func(where, expr string) {
		e, err := p.ParseExpr(grafanaVars.Replace(expr))
		if err != nil {
			t.Errorf("%s: query does not parse: %v\n%s", where, err, expr)
			return
		}
		var selected []string // the series names the query reads
		parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
			vs, ok := n.(*parser.VectorSelector)
			if !ok {
				return nil
			}
			ls, known := series[vs.Name]
			if !known {
				t.Errorf("%s: %q is no series of the exporter (it makes %v)", where, vs.Name, slices.Sorted(maps.Keys(series)))
				return nil
			}
			selected = append(selected, vs.Name)
			for _, m := range vs.LabelMatchers {
				if m.Name == model.MetricNameLabel {
					continue
				}
				if !slices.Contains(ls, m.Name) {
					t.Errorf("%s: %s has no label %q", where, vs.Name, m.Name)
					continue
				}
				allowed := values[m.Name]
				if allowed == nil {
					continue // cache: any name
				}
				var vals []string
				switch m.Type {
				case labels.MatchEqual, labels.MatchNotEqual:
					vals = []string{m.Value}
				default:
					if !literalAlternation.MatchString(m.Value) {
						t.Errorf("%s: %s=~%q: use a list of names, which this test can check", where, m.Name, m.Value)
						continue
					}
					vals = strings.Split(m.Value, "|")
				}
				for _, v := range vals {
					switch {
					case allowed[v]:
					default:
						t.Errorf("%s: %s %s %q: hoard gives no such %s", where, vs.Name, m.Type, v, m.Name)
					}
				}
			}
			return nil
		})
		// Grouping labels must be labels of the series grouped.
		parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
			agg, ok := n.(*parser.AggregateExpr)
			if !ok {
				return nil
			}
			for _, g := range agg.Grouping {
				for _, name := range selectedUnder(agg) {
					if !slices.Contains(series[name], g) {
						t.Errorf("%s: grouping by %q, which %s does not have", where, g, name)
					}
				}
			}
			return nil
		})
		if len(selected) == 0 {
			t.Errorf("%s: the query reads no series: %s", where, expr)
		}
	}

	var datasourceVar string
	for _, v := range d.Templating.List {
		switch v.Type {
		case "datasource":
			if q, _ := v.Query.(string); q != "prometheus" {
				t.Errorf("data source variable %q is for %v, want prometheus", v.Name, v.Query)
			}
			datasourceVar = "${" + v.Name + "}"
		case "query":
			m := labelValuesQuery.FindStringSubmatch(v.Definition)
			if m == nil {
				t.Errorf("variable %q: query %q is not label_values(metric, label)", v.Name, v.Definition)
				continue
			}
			if ls, ok := series[m[1]]; !ok || !slices.Contains(ls, m[2]) {
				t.Errorf("variable %q: %s has no label %s", v.Name, m[1], m[2])
			}
			check("variable "+v.Name, m[1])
		}
	}
	if datasourceVar == "" {
		t.Fatal("no data source variable: the dashboard would import bound to one data source")
	}

	ids := map[int]bool{}
	titles := map[string]bool{}
	queries := 0
	var walk func(ps []grafanaPanel)
	walk = func(ps []grafanaPanel) {
		for _, panel := range ps {
			if ids[panel.ID] || panel.ID == 0 {
				t.Errorf("panel %q: id %d is 0 or not unique", panel.Title, panel.ID)
			}
			ids[panel.ID] = true
			titles[panel.Title] = true
			if len(panel.GridPos) != 4 {
				t.Errorf("panel %q: gridPos %v", panel.Title, panel.GridPos)
			}
			walk(panel.Panels)
			if panel.Type == "row" {
				continue
			}
			if panel.Datasource == nil || panel.Datasource.UID != datasourceVar || len(panel.Targets) == 0 {
				t.Errorf("panel %q: data source %v, %d queries; want %s and a query", panel.Title, panel.Datasource, len(panel.Targets), datasourceVar)
			}
			for _, tg := range panel.Targets {
				if tg.Datasource == nil || tg.Datasource.UID != datasourceVar {
					t.Errorf("panel %q, query %s: data source %v, want %s", panel.Title, tg.RefID, tg.Datasource, datasourceVar)
				}
				check("panel "+panel.Title+" query "+tg.RefID, tg.Expr)
				queries++
			}
		}
	}
	walk(d.Panels)
	for _, title := range requiredPanels {
		if !titles[title] {
			t.Errorf("no panel %q", title)
		}
	}
	t.Logf("%d queries in %d panels checked against %d series names", queries, len(ids), len(series))
}

// selectedUnder returns the series names an expression reads.
func selectedUnder(n parser.Node) []string {
	var out []string
	parser.Inspect(n, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			out = append(out, vs.Name)
		}
		return nil
	})
	return out
}
