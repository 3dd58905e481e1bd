package hoard

import (
	"strings"
	"testing"
)

// An IDKey writes the key its Aside reads (Keys.Key(Version, ID) or
// Keys.Key(ID)), within MaxLen, and is Verbatim exactly when that key is
// its parts as they are.
func TestIDKeyWritesTheAsidesKey(t *testing.T) {
	short, err := NewKeyBuilder("p", &KeyOptions{MaxLen: 100})
	if err != nil {
		t.Fatal(err)
	}
	builders := []KeyBuilder{{prefix: "products"}, {}, short}
	ids := []string{"", "7", "a:b", "{x}", "50%", "nul\x00", "é", strings.Repeat("z", 97), strings.Repeat("z", 600), strings.Repeat(":", 20)}
	for i := range builders {
		kb := &builders[i]
		for _, version := range []string{"", "v3", "%", strings.Repeat("9", 30)} {
			for _, id := range ids {
				k := IDKey{Keys: kb, Version: version, ID: id}
				want := kb.Key(id)
				if version != "" {
					want = kb.Key(version, id)
				}
				if got := k.String(); got != want {
					t.Fatalf("%+v: String = %q; want %q", k, got, want)
				}
				if got := string(k.AppendTo([]byte("x"))); got != "x"+want {
					t.Fatalf("%+v: AppendTo = %q; want %q", k, got, "x"+want)
				}
				if len(want) > k.MaxLen() {
					t.Fatalf("%+v: the key is %d bytes, over MaxLen %d", k, len(want), k.MaxLen())
				}
				plain := kb.Prefix() + ":" + id
				if version != "" {
					plain = kb.Prefix() + ":" + version + ":" + id
				}
				if got := k.Verbatim(); got != (want == plain) {
					t.Fatalf("%+v: Verbatim = %v, but the key is %q", k, got, want)
				}
			}
		}
	}
}
