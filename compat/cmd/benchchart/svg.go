package main

import (
	"fmt"
	"math"
	"strings"
)

// Chart geometry in SVG user units.
const (
	chartWidth   = 640
	chartHeight  = 400
	marginLeft   = 70
	marginRight  = 150
	marginTop    = 40
	marginBottom = 50
	plotWidth    = chartWidth - marginLeft - marginRight
	plotHeight   = chartHeight - marginTop - marginBottom
	yTickCount   = 5
)

// niceStep returns a round step (1, 2 or 5 times a power of ten) at least
// span/ticks, so that ticks ticks cover span.
func niceStep(span float64, ticks int) float64 {
	if span <= 0 || ticks <= 0 {
		return 1
	}
	raw := span / float64(ticks)
	pow := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*pow >= raw {
			return m * pow
		}
	}
	return 10 * pow
}

// axisLabel formats a throughput tick, e.g. 250000 as "250k".
func axisLabel(v float64) string {
	switch {
	case v >= 1e6:
		return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", v/1e6), "0"), ".") + "M"
	case v >= 1e3:
		return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.1f", v/1e3), "0"), ".") + "k"
	}
	return fmt.Sprintf("%.0f", v)
}

// renderSVG draws the series on a log2 in-flight axis and a linear
// throughput axis, labelled yLabel, starting at zero.
func renderSVG(title, yLabel string, all []series) string {
	maxInFlight, maxY := 1, 0.0
	for _, s := range all {
		for _, p := range s.points {
			maxInFlight = max(maxInFlight, p.inFlight)
			maxY = max(maxY, p.highest)
		}
	}
	step := niceStep(maxY, yTickCount)
	top := step * math.Ceil(maxY/step)
	if top == 0 {
		top = step
	}
	xMax := math.Log2(float64(maxInFlight))
	if xMax == 0 {
		xMax = 1
	}
	x := func(inFlight int) float64 { return marginLeft + plotWidth*math.Log2(float64(inFlight))/xMax }
	y := func(v float64) float64 { return marginTop + plotHeight*(1-v/top) }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		chartWidth, chartHeight, chartWidth, chartHeight)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", chartWidth, chartHeight)
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="14" font-weight="bold">%s</text>`+"\n", marginLeft, escape(title))

	for v := 0.0; v <= top+step/2; v += step {
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>`+"\n",
			marginLeft, y(v), marginLeft+plotWidth, y(v))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", marginLeft-6, y(v)+4, axisLabel(v))
	}
	if len(all) > 0 {
		for _, p := range all[0].points {
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>`+"\n",
				x(p.inFlight), marginTop, x(p.inFlight), marginTop+plotHeight)
			fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%d</text>`+"\n",
				x(p.inFlight), marginTop+plotHeight+18, p.inFlight)
		}
	}
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#444"/>`+"\n",
		marginLeft, marginTop, plotWidth, plotHeight)
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">proposals in flight (log scale)</text>`+"\n",
		marginLeft+plotWidth/2, chartHeight-10)
	fmt.Fprintf(&b, `<text transform="translate(16 %d) rotate(-90)" text-anchor="middle">%s</text>`+"\n",
		marginTop+plotHeight/2, escape(yLabel))

	for i, s := range all {
		var path []string
		for _, p := range s.points {
			path = append(path, fmt.Sprintf("%.1f,%.1f", x(p.inFlight), y(p.median)))
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="1.5"/>`+"\n",
				x(p.inFlight), y(p.lowest), x(p.inFlight), y(p.highest), s.color)
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3.5" fill="%s"/>`+"\n", x(p.inFlight), y(p.median), s.color)
		}
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>`+"\n",
			strings.Join(path, " "), s.color)
		ly := marginTop + 16 + 20*i
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="2"/>`+"\n",
			marginLeft+plotWidth+12, ly, marginLeft+plotWidth+36, ly, s.color)
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`+"\n", marginLeft+plotWidth+42, ly+4, escape(s.label))
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="10" fill="#555">line: median</text>`+"\n",
		marginLeft+plotWidth+12, marginTop+70)
	fmt.Fprintf(&b, `<text x="%d" y="%d" font-size="10" fill="#555">bar: range of runs</text>`+"\n",
		marginLeft+plotWidth+12, marginTop+84)
	b.WriteString("</svg>\n")
	return b.String()
}

func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
