package assets

import (
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
)

// variant is a precompressed copy of an asset.
type variant struct {
	coding string                // Brotli or Gzip
	size   int64                 // its length in bytes
	etag   string                // strong ETag of its bytes; "" when read from src
	data   []byte                // its bytes; nil when read from src
	file   string                // its name in the asset's src, when data is nil
	stamp  atomic.Pointer[stamp] // the last sum of that file
}

// sortVariants orders vs smallest first, which the negotiation prefers
// among codings the client accepts equally; equal sizes keep their order.
func sortVariants(vs []*variant) {
	slices.SortStableFunc(vs, func(a, b *variant) int {
		switch {
		case a.size < b.size:
			return -1
		case a.size > b.size:
			return 1
		}
		return 0
	})
}

// qMax is the weight of q=1, in thousandths.
const qMax = 1000

// acceptEncoding is a parsed Accept-Encoding request header (RFC 9110,
// section 12.5.3): the weight of each listed coding, in thousandths.
type acceptEncoding struct {
	q map[string]int // by lowercase coding; "*" and "identity" included
}

// parseAcceptEncoding parses the Accept-Encoding field values. An element
// with a malformed weight is left out, as if the client had not listed it;
// "x-gzip" counts as gzip (RFC 9110, section 8.4.1.3). The first weight
// given for a coding counts.
func parseAcceptEncoding(values []string) acceptEncoding {
	ae := acceptEncoding{q: map[string]int{}}
	for _, v := range values {
		for elem := range strings.SplitSeq(v, ",") {
			coding, params, _ := strings.Cut(elem, ";")
			coding = strings.ToLower(strings.TrimSpace(coding))
			if coding == "" {
				continue
			}
			if coding == "x-gzip" {
				coding = Gzip
			}
			q, ok := weight(params)
			if _, seen := ae.q[coding]; ok && !seen {
				ae.q[coding] = q
			}
		}
	}
	return ae
}

// weight parses the parameters of one Accept-Encoding element and returns
// its q, in thousandths: qMax when there is none, false when it is
// malformed or there is another parameter.
func weight(params string) (int, bool) {
	params = strings.TrimSpace(params)
	if params == "" {
		return qMax, true
	}
	name, value, ok := strings.Cut(params, "=")
	if !ok || !strings.EqualFold(strings.TrimSpace(name), "q") {
		return 0, false
	}
	return parseQ(strings.TrimSpace(value))
}

// parseQ parses a qvalue: "0" to "1", with at most three decimals.
func parseQ(s string) (int, bool) {
	if s == "" || len(s) > 5 || (s[0] != '0' && s[0] != '1') {
		return 0, false
	}
	q := int(s[0]-'0') * qMax
	if len(s) == 1 {
		return q, true
	}
	if s[1] != '.' {
		return 0, false
	}
	scale := 100
	for _, c := range s[2:] {
		if c < '0' || c > '9' {
			return 0, false
		}
		q += int(c-'0') * scale
		scale /= 10
	}
	return q, q <= qMax
}

// weightOf returns the weight the client gives coding, and whether it
// said anything that covers it (the coding itself or "*").
func (ae acceptEncoding) weightOf(coding string) (int, bool) {
	if q, ok := ae.q[coding]; ok {
		return q, true
	}
	q, ok := ae.q["*"]
	return q, ok
}

// choose returns the copy of vs (smallest first) to answer with, or nil
// for the asset as it is. The copy is the one with the highest non-zero
// weight, the smallest among equals. The original is chosen when no copy
// is acceptable, or when identity has a higher weight than the best copy,
// given explicitly or through "*". A request without Accept-Encoding gets
// the original: RFC 9110 would allow any coding, but a client that sent
// none (curl, a script) most likely cannot decode one.
func choose(values []string, vs []*variant) *variant {
	if len(values) == 0 {
		return nil
	}
	ae := parseAcceptEncoding(values)
	var best *variant
	bestQ := 0
	for _, v := range vs {
		if q, _ := ae.weightOf(v.coding); q > bestQ {
			best, bestQ = v, q
		}
	}
	if best == nil {
		return nil
	}
	if q, listed := ae.weightOf("identity"); listed && q > bestQ {
		return nil
	}
	return best
}

// addVary adds field to the Vary header unless it, or "*", is there: the
// handler's Vary joins one an outer middleware set (CORS adds Origin).
func addVary(h http.Header, field string) {
	for _, v := range h.Values("Vary") {
		for f := range strings.SplitSeq(v, ",") {
			f = strings.TrimSpace(f)
			if f == "*" || strings.EqualFold(f, field) {
				return
			}
		}
	}
	h.Add("Vary", field)
}
