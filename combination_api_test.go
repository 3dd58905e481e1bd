package hoard_test

import (
	"context"

	"github.com/hoard-cache/hoard"
)

// The parts of the API the combination test uses that changed with the
// fixes of issue 17, in one place.

// comboKey is the storage key of id in a, under the namespace version a
// knows now.
func comboKey(_ context.Context, a *hoard.Aside[comboRow], id string) (string, error) {
	return a.Key(id), nil
}

// comboTagsOf tags every value of table on every write path with its
// group's tag; loads, batch loads and puts add the key's own tag, each in
// its own way, so that an invalidation of either reaches every path.
func comboTagsOf(o *hoard.AsideOptions[comboRow], table int) {
	o.TagsOf = func(id string, _ comboRow) []string { return tagsOf(tkey{table, id})[1:] }
}

// comboSetTagsFor tags one id's value of a batch load.
func comboSetTagsFor(ctx context.Context, id string, tags []string) {
	hoard.SetTagsFor(ctx, id, tags...)
}

// comboPutTags are the tags a write-through or write-behind Put gives the
// value of tk beyond TagsOf.
func comboPutTags(tk tkey) []string { return tagsOf(tk)[:1] }

// comboDeleteTags are the tags a write-behind Delete gives its "not
// found": every tag a load of tk sets or TagsOf adds.
func comboDeleteTags(tk tkey) []string { return tagsOf(tk) }

// comboPeek is the entry a Get of id would serve now, without loading.
func comboPeek(ctx context.Context, a *hoard.Aside[comboRow], id string) (hoard.Entry[comboRow], error) {
	return a.Peek(ctx, id)
}
