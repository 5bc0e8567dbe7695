package metrics

import (
	"strconv"
	"sync"
	"sync/atomic"
)

// kindRange is an inclusive range of allowed event kinds.
type kindRange struct{ lo, hi int }

// kindSlots numbers every allowed kind densely (slot 0 .. n-1) with slot n
// for "other", so a KindCounter is an array lookup instead of a map.
type kindSlots struct {
	ranges []kindRange
	base   []int // slot of ranges[i].lo
	n      int   // number of allowed kinds; also the "other" slot
}

func newKindSlots(ranges []kindRange) kindSlots {
	ks := kindSlots{ranges: ranges, base: make([]int, len(ranges))}
	for i, r := range ranges {
		ks.base[i] = ks.n
		ks.n += r.hi - r.lo + 1
	}
	return ks
}

// allowedKinds is derived once from the catalog's allow-list and never
// changes afterwards.
var allowedKinds = newKindSlots(kindAllowList)

// slot returns kind's slot, or the "other" slot.
func (ks *kindSlots) slot(kind int) int {
	lo, hi := 0, len(ks.ranges)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		switch r := ks.ranges[mid]; {
		case kind < r.lo:
			hi = mid
		case kind > r.hi:
			lo = mid + 1
		default:
			return ks.base[mid] + kind - r.lo
		}
	}
	return ks.n
}

// label returns the label value of a slot.
func (ks *kindSlots) label(slot int) string {
	if slot >= ks.n {
		return LabelOther
	}
	for i := len(ks.base) - 1; i >= 0; i-- {
		if slot >= ks.base[i] {
			return strconv.Itoa(ks.ranges[i].lo + slot - ks.base[i])
		}
	}
	return LabelOther
}

// KindLabel returns the "kind" label value for an event kind: its decimal
// form when the kind is on the allow-list, else "other".
func KindLabel(kind int) string {
	return allowedKinds.label(allowedKinds.slot(kind))
}

// KindCounter is a counter family labelled by event kind, bounded by the
// allow-list (about ten thousand kinds, mostly the ephemeral range), which is
// why it does not use MaxChildren. A series appears on its first increment.
type KindCounter struct {
	slots []atomic.Pointer[Counter]
	mu    sync.Mutex
	order atomic.Pointer[[]*Counter] // creation order; append-only
}

func newKindCounter() *KindCounter {
	k := &KindCounter{slots: make([]atomic.Pointer[Counter], allowedKinds.n+1)}
	var order []*Counter
	k.order.Store(&order)
	return k
}

// Inc counts one event of the given kind.
func (k *KindCounter) Inc(kind int) { k.With(kind).Inc() }

// With returns the counter for kind (through the allow-list).
func (k *KindCounter) With(kind int) *Counter {
	s := allowedKinds.slot(kind)
	if c := k.slots[s].Load(); c != nil {
		return c
	}
	return k.create(s)
}

func (k *KindCounter) create(s int) *Counter {
	k.mu.Lock()
	defer k.mu.Unlock()
	if c := k.slots[s].Load(); c != nil {
		return c
	}
	order := *k.order.Load()
	c := &Counter{labels: []string{allowedKinds.label(s)}, id: len(order)}
	order = append(order, c)
	k.order.Store(&order)
	k.slots[s].Store(c)
	return c
}
