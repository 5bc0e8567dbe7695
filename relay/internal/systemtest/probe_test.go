package systemtest

import "testing"

func TestProbe(t *testing.T) {
	r := startRelay(t, nil)
	l := newLoad(t, r.URL, 8)
	b := l.sign(t, 1, 250, "probe")
	res := l.publish(t, b)
	t.Logf("rate %.0f/s p50 %v p99 %v acc %d rss %d", res.rate(), res.quantile(.5), res.quantile(.99), res.accepted, r.rssKB())
	b = l.sign(t, 1, 250, "probe2")
	res = l.publish(t, b)
	t.Logf("rate %.0f/s p50 %v p99 %v acc %d rss %d", res.rate(), res.quantile(.5), res.quantile(.99), res.accepted, r.rssKB())
}
