package hoardredis

import (
	"errors"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/hoard-cache/hoard"
)

// FuzzStreamQueueDecode feeds stream entries of any content to the
// decoder: it never panics, and an entry it accepts is a whole write.
func FuzzStreamQueueDecode(f *testing.F) {
	f.Add("1-1", "42", "7", "0", "1700000000000000000", `{"name":"kettle"}`, true)
	f.Add("1-2", "42", "8", "1", "", "", false)
	f.Add("x", "", "-1", "2", "nan", `{"name":`, true)
	f.Add("18446744073709551615-18446744073709551615", "id", "18446744073709551615", "0", "-5", `"x"`, true)
	client := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:0"})
	defer client.Close()
	type product struct {
		Name string `json:"name"`
	}
	q, err := NewStreamQueue[product](client, &StreamQueueOptions{MaxValueBytes: 64})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, entryID, id, version, del, ts, payload string, withPayload bool) {
		values := map[string]any{streamFieldID: id, streamFieldV: version, streamFieldDel: del, streamFieldT: ts}
		if withPayload {
			values[streamFieldPayload] = payload
		}
		w := q.decode(&goredis.XMessage{ID: entryID, Values: values})
		if w.Receipt != entryID {
			t.Fatalf("receipt %q, want %q", w.Receipt, entryID)
		}
		if w.Err != nil {
			if !errors.Is(w.Err, hoard.ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", w.Err)
			}
			return
		}
		if w.ID != id || (del != "0" && del != "1") || w.Delete != (del == "1") {
			t.Fatalf("accepted %+v from id %q delete %q", w, id, del)
		}
		if !w.Delete && (!withPayload || len(payload) > 64) {
			t.Fatalf("accepted a save without a valid payload: %+v", w)
		}
	})
}
