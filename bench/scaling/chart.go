package scaling

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

// palette colours the lines of a panel in turn; hoard's series come first
// and get the warm colours.
var palette = []color.Color{
	color.RGBA{R: 214, G: 39, B: 40, A: 255},
	color.RGBA{R: 255, G: 127, B: 14, A: 255},
	color.RGBA{R: 148, G: 103, B: 189, A: 255},
	color.RGBA{R: 140, G: 86, B: 75, A: 255},
	color.RGBA{R: 31, G: 119, B: 180, A: 255},
	color.RGBA{R: 44, G: 160, B: 44, A: 255},
	color.RGBA{R: 127, G: 127, B: 127, A: 255},
	color.RGBA{R: 23, G: 190, B: 207, A: 255},
}

type series struct {
	name   string
	xs, ys []float64
	dashed bool // a baseline
}

type panel struct {
	title, x, y string
	logX, logY  bool
	lines       []series
}

// WriteCharts writes scaling-values.png, scaling-batch.png,
// scaling-entries.png and scaling-instances.png into dir.
func (r *Report) WriteCharts(dir string) error {
	charts := map[string][]panel{
		"scaling-values.png":    r.valuePanels(),
		"scaling-batch.png":     r.batchPanels(),
		"scaling-entries.png":   r.entryPanels(),
		"scaling-instances.png": r.instancePanels(),
	}
	for name, panels := range charts {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		if err := draw2(f, panels); err != nil {
			_ = f.Close()
			return fmt.Errorf("scaling: chart %s: %w", name, err)
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	return nil
}

func (r *Report) valuePanels() []panel {
	var xs []float64
	for _, v := range r.Values {
		xs = append(xs, float64(v.Size))
	}
	line := func(name string, dashed bool) series {
		s := series{name: name, xs: xs, dashed: dashed}
		for _, v := range r.Values {
			s.ys = append(s.ys, v.NS[name].Median()/1e3)
		}
		return s
	}
	return []panel{
		{title: "Hits by value size", x: "value size (bytes, JSON)", y: "µs per read", logX: true, logY: true,
			lines: []series{line(VMemHit, false), line(VRedisHit, false), line(VRedisHitS2, false), line(VOtter, true), line(VRawGet, true)}},
		{title: fmt.Sprintf("Misses with write-back, and GetMany of %d from Redis", valuesBatch), x: "value size (bytes, JSON)", y: "µs per operation", logX: true, logY: true,
			lines: []series{line(VMiss, false), line(VMissS2, false), line(VGetMany, false), line(VGetManyS2, false), line(VNaiveMiss, true), line(VMGet, true)}},
	}
}

func (r *Report) batchPanels() []panel {
	var xs []float64
	for _, p := range r.Batches {
		xs = append(xs, float64(p.Size))
	}
	line := func(name string, dashed bool) series {
		s := series{name: name, xs: xs, dashed: dashed}
		for _, p := range r.Batches {
			s.ys = append(s.ys, p.NS[name].Median()/float64(p.Size))
		}
		return s
	}
	return []panel{{title: "GetMany by batch size", x: "ids per batch", y: "ns per id", logX: true, logY: true,
		lines: []series{line(BMemory, false), line(BRedis, false), line(BOtter, true), line(BMGet, true)}}}
}

func (r *Report) entryPanels() []panel {
	hit := panel{title: "A hit by entries held", x: "entries held", y: "ns per hit", logX: true}
	heap := panel{title: "Heap per entry by entries held", x: "entries held", y: "bytes per entry", logX: true}
	for _, name := range []string{EHoard, EOtter} {
		h, m := series{name: name, dashed: name == EOtter}, series{name: name, dashed: name == EOtter}
		for _, p := range r.Entries {
			if p.Skipped != "" {
				continue
			}
			h.xs, h.ys = append(h.xs, float64(p.Entries)), append(h.ys, p.NS[name].Median())
			m.xs, m.ys = append(m.xs, float64(p.Entries)), append(m.ys, p.PerEntry[name])
		}
		hit.lines, heap.lines = append(hit.lines, h), append(heap.lines, m)
	}
	return []panel{hit, heap}
}

func (r *Report) instancePanels() []panel {
	p := panel{title: "Instances sharing one Redis, same read load", x: "instances", y: "per second", logY: true}
	var loads, trips, cmds series
	loads.name, trips.name, cmds.name = "loader calls/s", "Redis round trips/s", "Redis commands/s (server)"
	for _, x := range r.Instances {
		n := float64(x.Instances)
		loads.xs, loads.ys = append(loads.xs, n), append(loads.ys, math.Max(x.Loads, 0.1))
		trips.xs, trips.ys = append(trips.xs, n), append(trips.ys, math.Max(x.RoundTrips, 0.1))
		if x.Commands >= 0 {
			cmds.xs, cmds.ys = append(cmds.xs, n), append(cmds.ys, math.Max(x.Commands, 0.1))
		}
	}
	p.lines = []series{loads, trips}
	if len(cmds.xs) > 0 {
		p.lines = append(p.lines, cmds)
	}
	return []panel{p}
}

// draw2 draws the panels side by side into one PNG.
func draw2(w io.Writer, panels []panel) error {
	var plots []*plot.Plot
	for _, pn := range panels {
		p := plot.New()
		p.Title.Text, p.X.Label.Text, p.Y.Label.Text = pn.title, pn.x, pn.y
		p.Add(plotter.NewGrid())
		if pn.logX {
			p.X.Scale, p.X.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
		}
		if pn.logY {
			p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, plot.LogTicks{Prec: -1}
		}
		lo, hi := math.Inf(1), math.Inf(-1)
		for i, s := range pn.lines {
			var xys plotter.XYs
			for j := range s.xs {
				if y := s.ys[j]; !math.IsNaN(y) && !math.IsInf(y, 0) && (!pn.logY || y > 0) {
					xys = append(xys, plotter.XY{X: s.xs[j], Y: y})
					lo, hi = math.Min(lo, y), math.Max(hi, y)
				}
			}
			if len(xys) == 0 {
				continue
			}
			l, pts, err := plotter.NewLinePoints(xys)
			if err != nil {
				return err
			}
			c := palette[i%len(palette)]
			l.Color, pts.Color, l.Width, pts.Shape = c, c, vg.Points(2), draw.CircleGlyph{}
			if s.dashed {
				l.Dashes = []vg.Length{vg.Points(6), vg.Points(3)}
			}
			p.Add(l, pts)
			p.Legend.Add(s.name, l, pts)
		}
		if !math.IsInf(lo, 0) {
			if pn.logY {
				p.Y.Min, p.Y.Max = lo/2, hi*8 // room for the legend
			} else {
				p.Y.Min, p.Y.Max = 0, hi*1.4
			}
		}
		p.Legend.Top, p.Legend.Left = true, true
		plots = append(plots, p)
	}
	width := vg.Points(float64(700 * len(plots)))
	img := vgimg.New(width, vg.Points(560))
	tiles := draw.Tiles{Rows: 1, Cols: len(plots), PadX: vg.Points(20), PadTop: vg.Points(10), PadBottom: vg.Points(10), PadLeft: vg.Points(10), PadRight: vg.Points(10)}
	canvases := plot.Align([][]*plot.Plot{plots}, tiles, draw.New(img))
	for i, p := range plots {
		p.Draw(canvases[0][i])
	}
	_, err := vgimg.PngCanvas{Canvas: img}.WriteTo(w)
	return err
}
