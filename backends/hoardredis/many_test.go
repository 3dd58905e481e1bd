package hoardredis_test

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/hoard-cache/hoard"
	"github.com/hoard-cache/hoard/backends/hoardredis"
	"github.com/hoard-cache/hoard/internal/redistest"
)

// shaped has a field of each kind a decoder may reuse when it decodes
// into a value that is not empty.
type shaped struct {
	Name  string         `json:"name,omitempty" msgpack:"name,omitempty"`
	Tags  []string       `json:"tags,omitempty" msgpack:"tags,omitempty"`
	Attrs map[string]int `json:"attrs,omitempty" msgpack:"attrs,omitempty"`
	Next  *int           `json:"next,omitempty" msgpack:"next,omitempty"`
}

// GetMany decodes its keys one after the other: each value must come out
// as if decoded alone, sharing nothing with the key read before it (no
// field left over, no slice, map or pointer reused), and a negative entry
// read after a value has the zero value.
func TestGetManyValuesShareNothing(t *testing.T) {
	for _, codec := range []hoard.Codec{hoard.JSON, hoard.MsgPack} {
		t.Run(codec.Name(), func(t *testing.T) {
			_, client := redistest.Miniredis(t)
			ctx := context.Background()
			c, err := hoardredis.New[shaped](client, &hoardredis.Options{Codec: codec})
			if err != nil {
				t.Fatal(err)
			}
			one := 1
			exp := time.Now().Add(time.Hour)
			want := map[string]hoard.Entry[shaped]{
				"full":     {Value: shaped{Name: "one", Tags: []string{"a", "b", "c"}, Attrs: map[string]int{"x": 1}, Next: &one}, ExpiresAt: exp},
				"negative": {Negative: true, ExpiresAt: exp},
				"short":    {Value: shaped{Tags: []string{"z"}}, ExpiresAt: exp},
				"empty":    {ExpiresAt: exp},
			}
			keys := []string{"full", "negative", "short", "full", "empty"}
			for k, e := range want {
				if err := c.Set(ctx, k, e); err != nil {
					t.Fatal(err)
				}
			}
			found, err := c.GetMany(ctx, keys)
			if err != nil {
				t.Fatal(err)
			}
			for k, e := range want {
				got, ok := found[k]
				if !ok {
					t.Fatalf("%s: missing", k)
				}
				if !reflect.DeepEqual(got.Value, e.Value) || got.Negative != e.Negative {
					t.Errorf("%s: value %+v, negative %v; want %+v, %v", k, got.Value, got.Negative, e.Value, e.Negative)
				}
			}
			// Every value is the caller's own: changing one leaves the
			// others as they were.
			found["short"].Value.Tags[0] = "changed"
			if got := found["full"].Value.Tags; !reflect.DeepEqual(got, []string{"a", "b", "c"}) {
				t.Errorf("full's tags became %q after short's changed", got)
			}
		})
	}
}
