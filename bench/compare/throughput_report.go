package compare

import (
	"context"
	"fmt"
	"image/color"
	"io"
	"math"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// ThroughputRegion is the region of docs/benchmarks.md that
// cmd/throughput owns.
var ThroughputRegion = Region{Name: "throughput", Heading: "## Throughput under contention (issue 15)"}

// ThroughputReport is a run of the throughput workload.
type ThroughputReport struct {
	Config  ThroughputConfig
	Machine Machine
	Command string
	Started time.Time
	Elapsed time.Duration
	Results []ThroughputResult
}

// RunThroughput runs the throughput workload and reports it.
func RunThroughput(ctx context.Context, env *Env, cfg ThroughputConfig, command string, progress io.Writer) *ThroughputReport {
	if progress == nil {
		progress = io.Discard
	}
	progress = stamped{progress, time.Now()}
	cfg.defaults()
	rep := &ThroughputReport{Config: cfg, Machine: machine(env), Command: command, Started: time.Now()}
	rep.Results = Throughput(ctx, env, cfg, func(s string) { _, _ = fmt.Fprintln(progress, s) })
	rep.Elapsed = time.Since(rep.Started)
	rep.Machine.LoadEnd = loadAvg()
	return rep
}

func (r *ThroughputReport) result(lib Lib, mix Mix, g int) *ThroughputResult {
	for i := range r.Results {
		if x := &r.Results[i]; x.Lib == lib && x.Mix == mix && x.Goroutines == g {
			return x
		}
	}
	return nil
}

// WriteMarkdown writes the report's tables.
func (r *ThroughputReport) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	c, m := &r.Config, &r.Machine
	fmt.Fprintf(&b, "Command (from the repository root):\n\n```sh\n%s\n```\n\n", r.Command)
	fmt.Fprintf(&b, "Machine: %d cores (%s), %s %s. Load average (1, 5, 15 min) %s at the start, %s at the end: "+
		"the machine is shared with other work, so each cell is the median of %d runs of %v, every library in turn within a round; "+
		"the spread of the rounds is in brackets. Run at %s, took %s.\n\n",
		m.Cores, m.CPU, m.Go, m.OS, m.LoadStart, m.LoadEnd, c.Rounds, c.Duration,
		r.Started.UTC().Format("2006-01-02 15:04 MST"), r.Elapsed.Round(time.Second))
	fmt.Fprintf(&b, "The workload, as Caffeine's `GetPutBenchmark` and otter's throughput benchmark have it: a stream of %d keys drawn "+
		"from a Zipf distribution (s = %.2f) over %d keys, the ranks scrambled by a hash; every key put in the cache first (capacity %d, so "+
		"every read hits: a miss is counted, and there were none unless a cell says so). Each goroutine walks the stream from a random offset; "+
		"with writes, every 4th operation of a goroutine writes the key it would have read. GOMAXPROCS is %d, so 4 and 8 goroutines share "+
		"2 cores. The value is the `Product` struct (about 200 bytes as JSON).\n\n",
		c.Stream, c.S, c.Distinct, 2*c.Stream, m.Cores)
	for _, mix := range throughputMixes {
		title := "reads only"
		if mix < 100 {
			title = fmt.Sprintf("%d%% reads, %d%% writes", mix, 100-mix)
		}
		fmt.Fprintf(&b, "#### %s: million operations per second\n\n| library | how |", title)
		for _, g := range c.Goroutines {
			fmt.Fprintf(&b, " %d goroutine%s | × otter |", g, plural(g))
		}
		b.WriteString("\n|---|---|" + strings.Repeat("--:|--:|", len(c.Goroutines)) + "\n")
		for _, l := range throughputLibs {
			fmt.Fprintf(&b, "| %s | %s |", l.lib, l.note)
			for _, g := range c.Goroutines {
				x, o := r.result(l.lib, mix, g), r.result(Otter, mix, g)
				switch {
				case x == nil:
					b.WriteString(" – | – |")
				case x.Err != nil:
					fmt.Fprintf(&b, " error: %s | – |", cell(x.Err))
				default:
					lo, hi := minMaxF(x.OpsPerSec)
					s := fmt.Sprintf("%.2f (%.2f–%.2f)", x.Median()/1e6, lo/1e6, hi/1e6)
					if x.Misses > 0 {
						s += fmt.Sprintf(", %d misses", x.Misses)
					}
					rt := "–"
					if o != nil && o.Err == nil && o.Median() > 0 {
						rt = fmt.Sprintf("%.2f×", x.Median()/o.Median())
					}
					fmt.Fprintf(&b, " %s | %s |", s, rt)
				}
			}
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}
	b.WriteString("× otter is the library's ops/s over otter's in the same cell: below 1, slower than otter.\n\n![throughput](throughput.png)\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func minMaxF(xs []float64) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, x := range xs {
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	return lo, hi
}

// libColors gives each library of the line charts its colour.
var libColors = map[Lib]color.Color{
	Hoard:        hoardColor,
	HoardTier:    color.RGBA{R: 255, G: 127, B: 14, A: 255},
	Otter:        peerColor,
	Sturdyc:      color.RGBA{R: 44, G: 160, B: 44, A: 255},
	GoRedisCache: color.RGBA{R: 148, G: 103, B: 189, A: 255},
}

// WriteChart writes the chart, one panel per mix: ops/s by goroutines.
func (r *ThroughputReport) WriteChart(w io.Writer) error {
	var panels []*plot.Plot
	for _, mix := range throughputMixes {
		p := plot.New()
		p.Title.Text = fmt.Sprintf("Zipf, %d%% reads, %d%% writes (median of %d rounds)", mix, 100-mix, r.Config.Rounds)
		p.X.Label.Text = fmt.Sprintf("goroutines (GOMAXPROCS %d)", r.Machine.Cores)
		p.Y.Label.Text = "million operations per second"
		p.Add(plotter.NewGrid())
		var ticks []plot.Tick
		for i, g := range r.Config.Goroutines {
			ticks = append(ticks, plot.Tick{Value: float64(i), Label: fmt.Sprint(g)})
		}
		p.X.Tick.Marker = plot.ConstantTicks(ticks)
		top := 0.0
		for _, l := range throughputLibs {
			var xys plotter.XYs
			for i, g := range r.Config.Goroutines {
				if x := r.result(l.lib, mix, g); x != nil && x.Err == nil && len(x.OpsPerSec) > 0 {
					xys = append(xys, plotter.XY{X: float64(i), Y: x.Median() / 1e6})
					top = math.Max(top, x.Median()/1e6)
				}
			}
			if len(xys) == 0 {
				continue
			}
			line, points, err := plotter.NewLinePoints(xys)
			if err != nil {
				return err
			}
			line.Color, points.Color = libColors[l.lib], libColors[l.lib]
			line.Width = vg.Points(2)
			points.Shape = draw.CircleGlyph{}
			p.Add(line, points)
			p.Legend.Add(string(l.lib), line, points)
		}
		p.Y.Min, p.Y.Max = 0, top*1.35 // room for the legend
		p.Legend.Top = true
		panels = append(panels, p)
	}
	const width, height = 1400, 560
	img := vgimg.New(vg.Points(width), vg.Points(height))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: len(panels), PadX: vg.Points(20), PadTop: vg.Points(10), PadBottom: vg.Points(10), PadLeft: vg.Points(10), PadRight: vg.Points(10)}
	canvases := plot.Align([][]*plot.Plot{panels}, tiles, dc)
	for i, p := range panels {
		p.Draw(canvases[0][i])
	}
	_, err := vgimg.PngCanvas{Canvas: img}.WriteTo(w)
	return err
}
