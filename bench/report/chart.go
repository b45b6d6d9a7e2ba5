package report

import (
	"cmp"
	"fmt"
	"image/color"
	"io"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/atrest/atrest/bench"
	"github.com/atrest/atrest/ctr"
)

// The chart's size: two panels side by side, each about 6 by 4.5 inches.
const (
	chartWidth  = 12 * vg.Inch
	chartHeight = 4.5 * vg.Inch
)

// The panels' titles (WriteChart's tests look for them in the SVG).
const (
	throughputTitle  = "throughput per method and size"
	degradationTitle = "cost against plaintext per workload"
)

// palette colours methods in the order of methodOrder, the same in both
// panels: the Okabe-Ito colours, which colour-blind readers can tell
// apart, without the yellow that vanishes on white.
var palette = []color.RGBA{
	{0x00, 0x00, 0x00, 0xff}, // black
	{0x00, 0x72, 0xb2, 0xff}, // blue
	{0xd5, 0x5e, 0x00, 0xff}, // vermillion
	{0x00, 0x9e, 0x73, 0xff}, // bluish green
	{0xcc, 0x79, 0xa7, 0xff}, // reddish purple
	{0xe6, 0x9f, 0x00, 0xff}, // orange
	{0x56, 0xb4, 0xe9, 0xff}, // sky blue
}

// WriteChart draws r as an image in format "png" or "svg": on the left the
// stream throughput (median MB/s) of each method and implementation over
// the buffer size, both axes logarithmic, baselines dashed; on the right
// the degradation against plaintext of each workload compared with it, a
// bar per method with its confidence interval, noisy bars lighter with a
// dashed outline and a "~" above. A panel without data is drawn with a title that says so. Any
// other format gives ErrFormat.
func WriteChart(w io.Writer, r *bench.Result, format string) error {
	if r == nil {
		return errNilResult
	}
	var c vg.CanvasWriterTo
	switch format {
	case "png":
		c = vgimg.PngCanvas{Canvas: vgimg.New(chartWidth, chartHeight)}
	case "svg":
		c = vgsvg.New(chartWidth, chartHeight)
	default:
		return fmt.Errorf("report: %w %q (valid: png, svg)", ErrFormat, format)
	}
	colours := map[string]color.Color{}
	for i, m := range methodOrder(r) {
		colours[m] = palette[i%len(palette)]
	}
	left, err := throughputPlot(r, colours)
	if err != nil {
		return fmt.Errorf("report: charting throughput: %w", err)
	}
	right, err := degradationPlot(r, colours)
	if err != nil {
		return fmt.Errorf("report: charting degradation: %w", err)
	}
	tiles := draw.Tiles{
		Rows: 1, Cols: 2,
		PadX:   vg.Points(30),
		PadTop: vg.Points(8), PadBottom: vg.Points(8),
		PadLeft: vg.Points(8), PadRight: vg.Points(12),
	}
	plots := [][]*plot.Plot{{left, right}}
	canvases := plot.Align(plots, tiles, draw.New(c))
	left.Draw(canvases[0][0])
	right.Draw(canvases[0][1])
	if _, err := c.WriteTo(w); err != nil {
		return fmt.Errorf("report: writing %s chart: %w", format, err)
	}
	return nil
}

// emptyPlot is a panel that has nothing to show: its title says so, and
// no axes pretend to a scale.
func emptyPlot(title string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title + ": no data"
	p.HideAxes()
	return p
}

// streamLine is one method and implementation's stream medians.
type streamLine struct {
	method, impl string
	xys          plotter.XYs
}

// throughputPlot is the left panel: stream MB/s over the buffer size.
func throughputPlot(r *bench.Result, colours map[string]color.Color) (*plot.Plot, error) {
	var lines []*streamLine
	for i := range r.Figures {
		f := &r.Figures[i]
		// A log axis cannot place zero or a negative value; such a
		// figure (a failed round's) is left out of the chart, never
		// out of the tables.
		if f.Workload != bench.Stream || f.Unit != bench.MBPerSecond || f.Size <= 0 || f.Summary.Median <= 0 {
			continue
		}
		j := slices.IndexFunc(lines, func(l *streamLine) bool { return l.method == f.Method && l.impl == f.Impl })
		if j < 0 {
			j = len(lines)
			lines = append(lines, &streamLine{method: f.Method, impl: f.Impl})
		}
		// GB/s: shorter tick labels than MB/s for the same figures.
		lines[j].xys = append(lines[j].xys, plotter.XY{X: float64(f.Size), Y: f.Summary.Median / 1000})
	}
	if len(lines) == 0 {
		return emptyPlot(throughputTitle), nil
	}

	p := plot.New()
	p.Title.Text = throughputTitle
	p.X.Label.Text = "buffer size"
	p.Y.Label.Text = "median GB/s"
	p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
	p.Legend.Top, p.Legend.Left = true, true
	p.Add(plotter.NewGrid())

	xmin, xmax, ymin, ymax := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, l := range lines {
		slices.SortStableFunc(l.xys, func(a, b plotter.XY) int { return cmp.Compare(a.X, b.X) })
		for _, xy := range l.xys {
			xmin, xmax = math.Min(xmin, xy.X), math.Max(xmax, xy.X)
			ymin, ymax = math.Min(ymin, xy.Y), math.Max(ymax, xy.Y)
		}
		line, points, err := plotter.NewLinePoints(l.xys)
		if err != nil {
			return nil, err
		}
		col := colours[l.method]
		line.Color, points.Color = col, col
		points.Radius = vg.Points(2.5)
		name := l.method
		if l.method == ctr.Plaintext.String() {
			name += " (a copy)"
		}
		if l.impl != bench.ImplAtrest {
			// A baseline: dashed, with hollow points, so it reads
			// as the reference rather than as another method.
			line.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
			points.Shape = draw.RingGlyph{}
			name += " (" + l.impl + ")"
		} else {
			points.Shape = draw.CircleGlyph{}
		}
		p.Add(line, points)
		p.Legend.Add(name, line, points)
	}

	// Leave room around the points, and above them for the legend in the
	// top left corner: a share of the height for each entry.
	p.X.Min, p.X.Max = xmin/1.4, xmax*1.4
	lo, hi := math.Log(ymin/1.5), math.Log(ymax*1.5)
	free := math.Min(0.6, 0.05+0.055*float64(len(lines)))
	p.Y.Min, p.Y.Max = math.Exp(lo), math.Exp(lo+(hi-lo)/(1-free))
	p.X.Tick.Marker = plot.ConstantTicks(sizeTicks(p.X.Min, p.X.Max))
	p.Y.Tick.Marker = plot.TickerFunc(logTicks)
	return p, nil
}

// sizeTicks are ticks at the powers of two in [lo, hi], labelled as byte
// sizes (64 B, 4 KiB, 1 MiB), at most about eight of them labelled.
func sizeTicks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	first, last := int(math.Ceil(math.Log2(lo))), int(math.Floor(math.Log2(hi)))
	step := max(1, (last-first+8)/8)
	for e := first; e <= last; e++ {
		t := plot.Tick{Value: math.Exp2(float64(e))}
		if (e-first)%step == 0 && e >= 0 && e < 62 {
			t.Label = formatSize(1 << e)
		}
		ticks = append(ticks, t)
	}
	return ticks
}

// logTicks places ticks for a log axis from lo to hi: a tick at each
// multiple of a power of ten, labelled at 1, 2 and 5 times it over up to
// three decades and at the powers of ten alone beyond, or at all when
// that would leave fewer than two labels.
func logTicks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	labelled := 0
	wide := math.Log10(hi/lo) > 3
	for e := math.Floor(math.Log10(lo)); math.Pow(10, e) <= hi; e++ {
		for m := 1; m < 10; m++ {
			v := float64(m) * math.Pow(10, e)
			if v < lo || v > hi {
				continue
			}
			t := plot.Tick{Value: v}
			if m == 1 || !wide && (m == 2 || m == 5) {
				t.Label = formatNumber(v)
				labelled++
			}
			ticks = append(ticks, t)
		}
	}
	if labelled < 2 {
		for i := range ticks {
			ticks[i].Label = formatNumber(ticks[i].Value)
		}
	}
	if len(ticks) < 2 {
		// A range within one step: mark its ends.
		ticks = []plot.Tick{{Value: lo, Label: formatNumber(lo)}, {Value: hi, Label: formatNumber(hi)}}
	}
	return ticks
}

// degradationPlot is the right panel: a group of bars per workload (and
// whatever else sets its figures apart), a bar per method, for figures
// compared with plaintext.
func degradationPlot(r *bench.Result, colours map[string]color.Color) (*plot.Plot, error) {
	rows, methods := degradations(r, true)
	if len(rows) == 0 {
		return emptyPlot(degradationTitle), nil
	}
	p := plot.New()
	p.Title.Text = degradationTitle
	p.Y.Label.Text = "throughput lost vs plaintext (%)"
	for _, row := range rows {
		for _, f := range row.byMethod {
			if f.Versus.Relation == bench.Overhead {
				p.Y.Label.Text = "CPU time added vs plaintext (%)"
			}
		}
	}
	p.Legend.Top = true
	grid := plotter.NewGrid()
	grid.Vertical.Color = nil // categories need no vertical lines
	p.Add(grid)

	// Bar widths are absolute lengths, so size them from the panel's
	// approximate data width: four fifths of each category's share.
	dataWidth := chartWidth/2 - vg.Points(90)
	barWidth := min(vg.Points(22), dataWidth*0.8/vg.Length(len(rows)*len(methods)))

	ymin, ymax := 0.0, 0.0
	var whiskers whiskers
	for j, m := range methods {
		offset := (vg.Length(j) - vg.Length(len(methods)-1)/2) * barWidth
		col := colours[m]
		var noisyAt plotter.XYs
		for i, row := range rows {
			f := row.byMethod[m]
			if f == nil {
				continue
			}
			v := f.Versus.Value()
			lo, hi := f.Versus.Interval()
			ymin, ymax = math.Min(ymin, math.Min(v, lo)), math.Max(ymax, math.Max(v, hi))
			whiskers = append(whiskers, whisker{x: float64(i), lo: lo, hi: hi, offset: offset})
			bar, err := plotter.NewBarChart(plotter.Values{v}, barWidth)
			if err != nil {
				return nil, err
			}
			bar.XMin, bar.Offset = float64(i), offset
			bar.Color, bar.LineStyle.Color = col, col
			if f.Noisy() {
				bar.Color = lighten(col)
				bar.LineStyle.Dashes = []vg.Length{vg.Points(2), vg.Points(2)}
				noisyAt = append(noisyAt, plotter.XY{X: float64(i), Y: math.Max(hi, 0)})
			}
			p.Add(bar)
		}
		// A bar of the method's colour for the legend alone.
		key, err := plotter.NewBarChart(plotter.Values{0}, barWidth)
		if err != nil {
			return nil, err
		}
		key.Color, key.LineStyle.Color = col, col
		p.Legend.Add(m, key)
		if len(noisyAt) > 0 {
			marks, err := plotter.NewLabels(plotter.XYLabels{XYs: noisyAt, Labels: slices.Repeat([]string{noisyMark}, len(noisyAt))})
			if err != nil {
				return nil, err
			}
			for k := range marks.TextStyle {
				marks.TextStyle[k].XAlign = draw.XCenter
				marks.TextStyle[k].Font.Size = vg.Points(14)
			}
			marks.Offset = vg.Point{X: offset, Y: vg.Points(2)}
			p.Add(marks)
		}
	}
	// The intervals go over the bars, so they are drawn after them.
	p.Add(whiskers)
	if ymin < 0 {
		// Some method beat plaintext: mark where the bars start.
		zero, err := plotter.NewLine(plotter.XYs{{X: -0.5, Y: 0}, {X: float64(len(rows)) - 0.5, Y: 0}})
		if err != nil {
			return nil, err
		}
		zero.Width = vg.Points(0.8)
		p.Add(zero)
	}
	if slices.ContainsFunc(rows, func(row degradationRow) bool {
		return slices.ContainsFunc(methods, func(m string) bool { f := row.byMethod[m]; return f != nil && f.Noisy() })
	}) {
		key, err := plotter.NewBarChart(plotter.Values{0}, barWidth)
		if err != nil {
			return nil, err
		}
		key.Color = lighten(color.RGBA{0x60, 0x60, 0x60, 0xff})
		key.LineStyle.Color = color.RGBA{0x60, 0x60, 0x60, 0xff}
		key.LineStyle.Dashes = []vg.Length{vg.Points(2), vg.Points(2)}
		p.Legend.Add(noisyMark+" noisy", key)
	}

	labels := make([]string, len(rows))
	for i, row := range rows {
		labels[i] = row.label
	}
	p.NominalX(labels...)
	p.X.Tick.Label.Rotation = math.Pi / 8
	p.X.Tick.Label.XAlign = draw.XRight
	p.X.Tick.Label.YAlign = draw.YTop
	p.X.Min, p.X.Max = -0.5, float64(len(rows))-0.5
	// Room for the legend in the top right corner, as in the left panel.
	entries := len(methods) + 1
	free := math.Min(0.6, 0.05+0.055*float64(entries))
	span := (ymax - ymin) * 1.1
	if span == 0 {
		span = 1
	}
	p.Y.Min = ymin - span*0.05*boolFloat(ymin < 0)
	p.Y.Max = p.Y.Min + span/(1-free)
	return p, nil
}

// whisker is a confidence interval drawn over a bar: a vertical line from
// lo to hi with caps, at category x moved by the bar's offset, which is a
// length and not a data value (so plotter.YErrorBars cannot place it).
type whisker struct {
	x, lo, hi float64
	offset    vg.Length
}

// whiskers draws a panel's intervals; it is a plot.Plotter.
type whiskers []whisker

// Plot draws each interval in black, thin enough not to hide the bar.
func (ws whiskers) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	style := draw.LineStyle{Color: color.Black, Width: vg.Points(0.8)}
	cap := vg.Points(3)
	for _, w := range ws {
		x := trX(w.x) + w.offset
		lo, hi := trY(w.lo), trY(w.hi)
		c.StrokeLine2(style, x, lo, x, hi)
		c.StrokeLine2(style, x-cap, lo, x+cap, lo)
		c.StrokeLine2(style, x-cap, hi, x+cap, hi)
	}
}

// lighten mixes c two parts in five with white: the same hue, visibly
// weaker.
func lighten(c color.Color) color.Color {
	r, g, b, _ := c.RGBA()
	mix := func(v uint32) uint8 { return uint8((v>>8)*2/5 + 255*3/5) }
	return color.RGBA{mix(r), mix(g), mix(b), 0xff}
}

// boolFloat is 1 for true, 0 for false.
func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
