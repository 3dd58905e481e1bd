package httpcache

import (
	"net/http"
	"strings"
)

// Vary is a list header that other middleware writes too: CORS adds
// "Vary: Origin" around the cache, a compressor "Vary: Accept-Encoding".
// Writing a stored response merges its Vary into what is already set
// instead of replacing it, on hits, misses, 304s and passed responses
// alike, so a downstream cache keys on every header any layer varied on.

// setHeaders copies the headers of a stored or rendered response into
// dst, merging Vary with dst's. Values are shared with other readers:
// their capacity is cut to their length, so a later Add copies.
func setHeaders(dst, src http.Header) {
	for k, v := range src {
		if k == "Vary" {
			mergeVary(dst, v)
			continue
		}
		dst[k] = v[:len(v):len(v)]
	}
}

// mergeVary adds the field names of values to dst's Vary, each once
// (compared without regard to case); "*" stands alone.
func mergeVary(dst http.Header, values []string) {
	have := dst["Vary"]
	if len(have) == 0 {
		dst["Vary"] = values[:len(values):len(values)]
		return
	}
	var names []string
	seen := func(n string) bool {
		for _, m := range names {
			if strings.EqualFold(m, n) {
				return true
			}
		}
		return false
	}
	for _, list := range [2][]string{have, values} {
		for _, v := range list {
			for name := range strings.SplitSeq(v, ",") {
				if name = strings.TrimSpace(name); name == "" {
					continue
				}
				if name == "*" {
					dst["Vary"] = []string{"*"}
					return
				}
				if !seen(name) {
					names = append(names, name)
				}
			}
		}
	}
	dst["Vary"] = []string{strings.Join(names, ", ")}
}

// addVary adds name to h's Vary (a stored response's own header).
func addVary(h http.Header, name string) {
	if len(h["Vary"]) == 0 {
		h["Vary"] = []string{name}
		return
	}
	mergeVary(h, []string{name})
}
