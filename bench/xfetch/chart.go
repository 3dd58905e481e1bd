package xfetch

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// maxChartPoints bounds the points drawn per panel: every slow request is
// drawn, fast ones are thinned evenly to fit.
const maxChartPoints = 30000

var (
	readColor      = color.RGBA{R: 31, G: 119, B: 180, A: 255}
	filledColor    = color.RGBA{R: 255, G: 127, B: 14, A: 255}
	recomputeColor = color.RGBA{R: 44, G: 160, B: 44, A: 255}
	expiryColor    = color.RGBA{R: 214, G: 39, B: 40, A: 255}
	chartStrategy  = []Strategy{Plain, XFetch}
)

// WriteChart draws, as a PNG, the read latency over the ChartWindow after
// the warm-up of plain (top) and xfetch (bottom): one point per request,
// the recomputes running, and the instants the value would expire.
func WriteChart(w io.Writer, r *Report) error {
	var panels [][]*plot.Plot
	lo, hi := math.Inf(1), float64(r.Config.Delta)/float64(time.Millisecond)
	for _, s := range chartStrategy {
		res := r.Result(s)
		if res == nil {
			return fmt.Errorf("xfetch: chart: strategy %s did not run", s)
		}
		for _, smp := range res.Trace {
			v := msOf(smp.Latency)
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	lo = math.Pow(10, math.Floor(math.Log10(math.Max(lo, 1e-4))))
	hi = math.Pow(10, math.Ceil(math.Log10(hi))+1) // a decade of room for the legend
	for _, s := range chartStrategy {
		p, err := panel(r, r.Result(s), lo, hi)
		if err != nil {
			return err
		}
		panels = append(panels, []*plot.Plot{p})
	}
	img := vgimg.New(vg.Points(1000), vg.Points(800))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: len(panels), Cols: 1, PadTop: 4, PadBottom: 4, PadLeft: 4, PadRight: 8, PadY: 12}
	canvases := plot.Align(panels, tiles, dc)
	for i := range panels {
		panels[i][0].Draw(canvases[i][0])
	}
	_, err := vgimg.PngCanvas{Canvas: img}.WriteTo(w)
	return err
}

// panel draws one strategy's trace.
func panel(r *Report, res *Result, lo, hi float64) (*plot.Plot, error) {
	c := &r.Config
	from, to := c.Warmup, c.Warmup+c.ChartWindow
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s: read latency, %d instances × %d readers, TTL %v, delta %v (p99 %s, %d misses)",
		res.Strategy, c.Instances, c.Readers, c.TTL, c.Delta, ms(res.Latency.P99), res.Misses)
	if res.MeanLead > 0 {
		p.Title.Text += fmt.Sprintf("\nrefreshes begin %s before the expiry, on average", ms(res.MeanLead))
	}
	p.X.Label.Text = "time since the start of the run (ms)"
	p.Y.Label.Text = "latency (ms, log scale)"
	p.X.Min, p.X.Max = msOf(from), msOf(to)
	p.Y.Min, p.Y.Max = lo, hi
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Legend.Top = true
	p.Add(plotter.NewGrid())

	reads, filled := thin(res.Trace, c.Delta/10)
	for _, pts := range []struct {
		xys   plotter.XYs
		color color.Color
		name  string
	}{{reads, readColor, "read"}, {filled, filledColor, "request a paced client sent during a stall (backfilled)"}} {
		if len(pts.xys) == 0 {
			continue
		}
		sc, err := plotter.NewScatter(pts.xys)
		if err != nil {
			return nil, err
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: pts.color, Radius: vg.Points(1), Shape: draw.CircleGlyph{}}
		p.Add(sc)
		p.Legend.Add(pts.name, sc)
	}

	first := true
	for _, rc := range res.Recomputed {
		if rc.End < from || rc.Start > to {
			continue
		}
		l, err := plotter.NewLine(plotter.XYs{{X: msOf(rc.Start), Y: msOf(c.Delta)}, {X: msOf(rc.End), Y: msOf(c.Delta)}})
		if err != nil {
			return nil, err
		}
		l.Color, l.Width = recomputeColor, vg.Points(4)
		p.Add(l)
		if first {
			p.Legend.Add("recompute running (drawn at y = delta)", l)
			first = false
		}
	}
	first = true
	for _, e := range groupRecomputes(res.Recomputed, 0, math.MaxInt64, expiryGap(c)) {
		at := e.Last + c.TTL
		if at < from || at > to {
			continue
		}
		l, err := plotter.NewLine(plotter.XYs{{X: msOf(at), Y: lo}, {X: msOf(at), Y: hi}})
		if err != nil {
			return nil, err
		}
		l.Color, l.Width, l.Dashes = expiryColor, vg.Points(1.5), []vg.Length{vg.Points(6), vg.Points(3)}
		p.Add(l)
		if first {
			p.Legend.Add("expiry of the value: the last recompute's end + TTL", l)
			first = false
		}
	}
	return p, nil
}

// thin splits the trace into reads and backfilled requests, keeping every
// request slower than slow and an even share of the others, so at most
// about maxChartPoints are drawn.
func thin(trace []Sample, slow time.Duration) (reads, filled plotter.XYs) {
	fast := 0
	for _, s := range trace {
		if s.Latency < slow {
			fast++
		}
	}
	every := max(1, fast/maxChartPoints+1)
	n := 0
	for _, s := range trace {
		if s.Latency < slow {
			if n++; n%every != 0 {
				continue
			}
		}
		xy := plotter.XY{X: msOf(s.At), Y: math.Max(msOf(s.Latency), 1e-4)}
		if s.Backfilled {
			filled = append(filled, xy)
		} else {
			reads = append(reads, xy)
		}
	}
	return reads, filled
}

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
