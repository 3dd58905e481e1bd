package compare

import (
	"fmt"
	"image/color"
	"io"
	"math"
	"os"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

var (
	hoardColor = color.RGBA{R: 214, G: 39, B: 40, A: 255}
	peerColor  = color.RGBA{R: 31, G: 119, B: 180, A: 255}
	refColor   = color.RGBA{R: 127, G: 127, B: 127, A: 255}
)

// WriteCharts writes compare-stampede.png, compare-storm.png and
// compare-hitratio.png into dir.
func (r *Report) WriteCharts(dir string) error {
	for name, f := range map[string]func(io.Writer) error{
		"compare-stampede.png": r.stampedeChart,
		"compare-storm.png":    r.stormChart,
		"compare-hitratio.png": r.hitRatioChart,
	} {
		if err := writeFile(filepath.Join(dir, name), f); err != nil {
			return fmt.Errorf("compare: chart %s: %w", name, err)
		}
	}
	return nil
}

func writeFile(path string, f func(io.Writer) error) error {
	file, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := f(file); err != nil {
		_ = file.Close()
		return err
	}
	return file.Close()
}

// bars draws one bar per library, hoard in its own colour, each labelled
// with its value.
func bars(p *plot.Plot, names []string, vals []float64, label func(float64) string, isHoard []bool) error {
	w := vg.Points(40)
	for i := range vals {
		v := make(plotter.Values, len(vals))
		v[i] = vals[i]
		bc, err := plotter.NewBarChart(v, w)
		if err != nil {
			return err
		}
		bc.LineStyle.Width = 0
		bc.Color = peerColor
		if isHoard[i] {
			bc.Color = hoardColor
		}
		p.Add(bc)
	}
	var xys plotter.XYs
	var labels []string
	for i, v := range vals {
		xys = append(xys, plotter.XY{X: float64(i), Y: v})
		labels = append(labels, label(v))
	}
	l, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: labels})
	if err != nil {
		return err
	}
	for i := range l.TextStyle {
		l.TextStyle[i].XAlign = draw.XCenter
		l.TextStyle[i].Font.Size = vg.Points(11)
	}
	l.Offset = vg.Point{Y: vg.Points(4)}
	p.Add(l)
	p.NominalX(names...)
	p.X.Tick.Label.Font.Size = vg.Points(10)
	return nil
}

func png(w io.Writer, p *plot.Plot, width, height vg.Length) error {
	img := vgimg.New(width, height)
	p.Draw(draw.New(img))
	_, err := vgimg.PngCanvas{Canvas: img}.WriteTo(w)
	return err
}

func (r *Report) stampedeChart(w io.Writer) error {
	c := r.Config.Stampede
	c.defaults()
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Stampede: loader calls when %d instances × %d goroutines read one expired key (mean of %d rounds)",
		c.Instances, c.Goroutines, c.Rounds)
	p.Y.Label.Text = "loader calls per stampede"
	var names []string
	var vals []float64
	var hoards []bool
	for _, s := range r.Stampede {
		if s.Err != nil {
			continue
		}
		names = append(names, string(s.Lib))
		vals = append(vals, s.MeanLoads())
		hoards = append(hoards, s.Lib == Hoard || s.Lib == HoardNoLock)
	}
	if err := bars(p, names, vals, func(v float64) string { return num(v) }, hoards); err != nil {
		return err
	}
	p.Y.Min = 0
	p.Y.Max = maxOf(vals) * 1.15
	return png(w, p, vg.Points(900), vg.Points(500))
}

func (r *Report) hitRatioChart(w io.Writer) error {
	c := r.Config.Zipf
	c.defaults()
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Hit ratio: Zipf (s = %.2f) over %d keys, in-process tier of %d entries", c.S, c.Keys, c.Capacity)
	p.Y.Label.Text = "hit ratio (%)"
	var names []string
	var vals []float64
	var hoards []bool
	for _, s := range r.Zipf {
		if s.Err != nil {
			continue
		}
		names = append(names, string(s.Lib))
		vals = append(vals, 100*s.HitRatio)
		hoards = append(hoards, s.Lib == Hoard)
	}
	if err := bars(p, names, vals, func(v float64) string { return fmt.Sprintf("%.1f%%", v) }, hoards); err != nil {
		return err
	}
	p.Y.Min, p.Y.Max = 0, math.Min(100, maxOf(vals)*1.2)
	if l := r.zipf(LRU); l != nil && l.Err == nil {
		target := 100 * (l.HitRatio + 0.10)
		line, err := plotter.NewLine(plotter.XYs{{X: -0.5, Y: target}, {X: float64(len(vals)) - 0.5, Y: target}})
		if err != nil {
			return err
		}
		line.Color, line.Dashes, line.Width = refColor, []vg.Length{vg.Points(5), vg.Points(3)}, vg.Points(1.5)
		p.Add(line)
		p.Legend.Add("target: LRU + 10 points", line)
		p.Legend.Top = true
	}
	return png(w, p, vg.Points(900), vg.Points(500))
}

func (r *Report) stormChart(w io.Writer) error {
	c := r.Config.Storm
	c.defaults()
	var res []*StormResult
	lo, hi := math.Inf(1), float64(c.Delay)/1e6
	for i := range r.Storm {
		if r.Storm[i].Err != nil {
			continue
		}
		res = append(res, &r.Storm[i])
		for _, s := range r.Storm[i].Trace {
			v := float64(s.Latency) / 1e6
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	if len(res) == 0 {
		return fmt.Errorf("no storm ran")
	}
	lo = math.Pow(10, math.Floor(math.Log10(math.Max(lo, 1e-4))))
	hi = math.Pow(10, math.Ceil(math.Log10(hi)))
	var panels [][]*plot.Plot
	for _, s := range res {
		p := plot.New()
		p.Title.Text = fmt.Sprintf("%s: %d misses, %d recomputes, p99 %s, max %s", s.Lib, s.Misses, s.Recomputes, dur(s.P99), dur(s.Max))
		p.X.Label.Text = fmt.Sprintf("time since the start (s); TTL %v, a recompute takes %v; warm-up of %v not counted", c.TTL, c.Delay, c.Warmup)
		p.Y.Label.Text = "read latency (ms)"
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
		p.Y.Min, p.Y.Max = lo, hi
		p.X.Min, p.X.Max = 0, c.Duration.Seconds()
		p.Add(plotter.NewGrid())
		xys := make(plotter.XYs, 0, len(s.Trace))
		for _, t := range s.Trace {
			xys = append(xys, plotter.XY{X: t.At.Seconds(), Y: math.Max(float64(t.Latency)/1e6, lo)})
		}
		sc, err := plotter.NewScatter(xys)
		if err != nil {
			return err
		}
		sc.GlyphStyle = draw.GlyphStyle{Color: peerColor, Radius: vg.Points(1), Shape: draw.CircleGlyph{}}
		if s.Lib == Hoard {
			sc.GlyphStyle.Color = hoardColor
		}
		p.Add(sc)
		warm, err := plotter.NewLine(plotter.XYs{{X: c.Warmup.Seconds(), Y: lo}, {X: c.Warmup.Seconds(), Y: hi}})
		if err != nil {
			return err
		}
		warm.Color, warm.Dashes = refColor, []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(warm)
		panels = append(panels, []*plot.Plot{p})
	}
	img := vgimg.New(vg.Points(1000), vg.Points(float64(230*len(panels))))
	tiles := draw.Tiles{Rows: len(panels), Cols: 1, PadTop: 4, PadBottom: 4, PadLeft: 4, PadRight: 8, PadY: 10}
	canvases := plot.Align(panels, tiles, draw.New(img))
	for i := range panels {
		panels[i][0].Draw(canvases[i][0])
	}
	_, err := vgimg.PngCanvas{Canvas: img}.WriteTo(w)
	return err
}

func maxOf(xs []float64) float64 {
	m := 1.0
	for _, x := range xs {
		m = math.Max(m, x)
	}
	return m
}
