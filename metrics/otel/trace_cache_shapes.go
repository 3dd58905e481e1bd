package otel

import (
	"strings"

	"github.com/hoard-cache/hoard"
)

// ability is a set of the optional interfaces of a hoard.Cache.
type ability uint16

const (
	abCAS        ability = 1 << iota // hoard.CompareAndSetter
	abGetMany                        // hoard.ManyGetter
	abPrefix                         // hoard.PrefixDeleter
	abCounter                        // hoard.Counter
	abSetMany                        // hoard.ManySetter
	abManyTokens                     // hoard.ManyTokenGetter
	abCASMany                        // hoard.ManyCompareAndSetter
	abTagClock                       // hoard.TagClock
	abClear                          // hoard.Clearer
	abByID                           // hoard.IDKeyGetter
	abFloor                          // hoard.FloorCounter
	abilityCount = iota
)

var abilityNames = [abilityCount]string{
	"CompareAndSetter", "ManyGetter", "PrefixDeleter", "Counter", "ManySetter",
	"ManyTokenGetter", "ManyCompareAndSetter", "TagClock", "Clearer", "IDKeyGetter", "FloorCounter",
}

// The mixes TraceCache keeps: any of mixable, or all of backendCore with
// any of backendExtra.
const (
	mixable      = abCAS | abGetMany | abPrefix | abCounter
	backendCore  = mixable | abSetMany | abManyTokens | abCASMany | abTagClock
	backendExtra = abClear | abByID | abFloor
)

// String lists the abilities in m by their interface names.
func (m ability) String() string {
	var names []string
	for i, n := range abilityNames {
		if m&(1<<i) != 0 {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

// abilitiesOf returns the optional interfaces c has.
func abilitiesOf[V any](c hoard.Cache[V]) ability {
	var m ability
	has := func(ok bool, a ability) {
		if ok {
			m |= a
		}
	}
	_, ok := c.(hoard.CompareAndSetter[V])
	has(ok, abCAS)
	_, ok = c.(hoard.ManyGetter[V])
	has(ok, abGetMany)
	_, ok = c.(hoard.PrefixDeleter)
	has(ok, abPrefix)
	_, ok = c.(hoard.Counter)
	has(ok, abCounter)
	_, ok = c.(hoard.ManySetter[V])
	has(ok, abSetMany)
	_, ok = c.(hoard.ManyTokenGetter[V])
	has(ok, abManyTokens)
	_, ok = c.(hoard.ManyCompareAndSetter[V])
	has(ok, abCASMany)
	_, ok = c.(hoard.TagClock)
	has(ok, abTagClock)
	_, ok = c.(hoard.Clearer)
	has(ok, abClear)
	_, ok = c.(hoard.IDKeyGetter[V])
	has(ok, abByID)
	_, ok = c.(hoard.FloorCounter)
	has(ok, abFloor)
	return m
}

// The wrapper types, one per mix of abilities TraceCache keeps: mix plus
// the letters of the abilities of mixable it has (CAS, GetMany, Prefix,
// Counter), and backend plus those of backendExtra (Clear, GetID, Floor). The
// mix with none is *tracedCache itself.
type (
	mixC[V any] struct {
		*tracedCache[V]
		casPart[V]
	}
	mixG[V any] struct {
		*tracedCache[V]
		getManyPart[V]
	}
	mixCG[V any] struct {
		*tracedCache[V]
		casPart[V]
		getManyPart[V]
	}
	mixP[V any] struct {
		*tracedCache[V]
		prefixPart[V]
	}
	mixCP[V any] struct {
		*tracedCache[V]
		casPart[V]
		prefixPart[V]
	}
	mixGP[V any] struct {
		*tracedCache[V]
		getManyPart[V]
		prefixPart[V]
	}
	mixCGP[V any] struct {
		*tracedCache[V]
		casPart[V]
		getManyPart[V]
		prefixPart[V]
	}
	mixN[V any] struct {
		*tracedCache[V]
		counterPart[V]
	}
	mixCN[V any] struct {
		*tracedCache[V]
		casPart[V]
		counterPart[V]
	}
	mixGN[V any] struct {
		*tracedCache[V]
		getManyPart[V]
		counterPart[V]
	}
	mixCGN[V any] struct {
		*tracedCache[V]
		casPart[V]
		getManyPart[V]
		counterPart[V]
	}
	mixPN[V any] struct {
		*tracedCache[V]
		prefixPart[V]
		counterPart[V]
	}
	mixCPN[V any] struct {
		*tracedCache[V]
		casPart[V]
		prefixPart[V]
		counterPart[V]
	}
	mixGPN[V any] struct {
		*tracedCache[V]
		getManyPart[V]
		prefixPart[V]
		counterPart[V]
	}
	mixCGPN[V any] struct {
		*tracedCache[V]
		casPart[V]
		getManyPart[V]
		prefixPart[V]
		counterPart[V]
	}

	// backendParts are the abilities of backendCore.
	backendParts[V any] struct {
		casPart[V]
		getManyPart[V]
		prefixPart[V]
		counterPart[V]
		setManyPart[V]
		manyTokensPart[V]
		casManyPart[V]
		tagClockPart[V]
	}
	backend[V any] struct {
		*tracedCache[V]
		backendParts[V]
	}
	backendC[V any] struct {
		*tracedCache[V]
		backendParts[V]
		clearPart[V]
	}
	backendB[V any] struct {
		*tracedCache[V]
		backendParts[V]
		idPart[V]
	}
	backendCB[V any] struct {
		*tracedCache[V]
		backendParts[V]
		clearPart[V]
		idPart[V]
	}
	backendF[V any] struct {
		*tracedCache[V]
		backendParts[V]
		floorPart[V]
	}
	backendCF[V any] struct {
		*tracedCache[V]
		backendParts[V]
		clearPart[V]
		floorPart[V]
	}
	backendBF[V any] struct {
		*tracedCache[V]
		backendParts[V]
		idPart[V]
		floorPart[V]
	}
	backendCBF[V any] struct {
		*tracedCache[V]
		backendParts[V]
		clearPart[V]
		idPart[V]
		floorPart[V]
	}
)

// withAbilities returns the wrapper of c that has the abilities m, or
// false when m is a mix TraceCache does not keep.
func withAbilities[V any](c *tracedCache[V], m ability) (hoard.Cache[V], bool) {
	switch {
	case m&^mixable == 0:
		return mixed(c, m), true
	case m&backendCore == backendCore && m&^(backendCore|backendExtra) == 0:
		parts := backendParts[V]{
			casPart[V]{c}, getManyPart[V]{c}, prefixPart[V]{c}, counterPart[V]{c},
			setManyPart[V]{c}, manyTokensPart[V]{c}, casManyPart[V]{c}, tagClockPart[V]{c},
		}
		cl, by, fl := clearPart[V]{c}, idPart[V]{c}, floorPart[V]{c}
		switch m & backendExtra {
		case 0:
			return &backend[V]{c, parts}, true
		case abClear:
			return &backendC[V]{c, parts, cl}, true
		case abByID:
			return &backendB[V]{c, parts, by}, true
		case abClear | abByID:
			return &backendCB[V]{c, parts, cl, by}, true
		case abFloor:
			return &backendF[V]{c, parts, fl}, true
		case abClear | abFloor:
			return &backendCF[V]{c, parts, cl, fl}, true
		case abByID | abFloor:
			return &backendBF[V]{c, parts, by, fl}, true
		default:
			return &backendCBF[V]{c, parts, cl, by, fl}, true
		}
	}
	return nil, false
}

// mixed returns the wrapper of c with the abilities m, a subset of
// mixable.
func mixed[V any](c *tracedCache[V], m ability) hoard.Cache[V] {
	cas, gm, pd, ctr := casPart[V]{c}, getManyPart[V]{c}, prefixPart[V]{c}, counterPart[V]{c}
	switch m {
	case abCAS:
		return &mixC[V]{c, cas}
	case abGetMany:
		return &mixG[V]{c, gm}
	case abCAS | abGetMany:
		return &mixCG[V]{c, cas, gm}
	case abPrefix:
		return &mixP[V]{c, pd}
	case abCAS | abPrefix:
		return &mixCP[V]{c, cas, pd}
	case abGetMany | abPrefix:
		return &mixGP[V]{c, gm, pd}
	case abCAS | abGetMany | abPrefix:
		return &mixCGP[V]{c, cas, gm, pd}
	case abCounter:
		return &mixN[V]{c, ctr}
	case abCAS | abCounter:
		return &mixCN[V]{c, cas, ctr}
	case abGetMany | abCounter:
		return &mixGN[V]{c, gm, ctr}
	case abCAS | abGetMany | abCounter:
		return &mixCGN[V]{c, cas, gm, ctr}
	case abPrefix | abCounter:
		return &mixPN[V]{c, pd, ctr}
	case abCAS | abPrefix | abCounter:
		return &mixCPN[V]{c, cas, pd, ctr}
	case abGetMany | abPrefix | abCounter:
		return &mixGPN[V]{c, gm, pd, ctr}
	case mixable:
		return &mixCGPN[V]{c, cas, gm, pd, ctr}
	}
	return c
}
