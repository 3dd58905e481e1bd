package hoard_test

import (
	"context"

	"github.com/hoard-cache/hoard"
)

// The parts of the API the combination test uses that change with the
// lead's fixes, in one place.

// comboKey is the storage key of id in a, under the namespace version a
// knows now.
func comboKey(_ context.Context, a *hoard.Aside[comboRow], id string) (string, error) {
	return a.Key(id), nil
}

// comboTagsOf tags every value on every write path.
func comboTagsOf(*hoard.AsideOptions[comboRow]) {}

// comboSetTagsFor tags one id's value of a batch load.
func comboSetTagsFor(context.Context, string, []string) {}
