package server

import (
	"time"

	"github.com/buzzrelay/buzz/relay/internal/metrics"
)

// The observers translate other packages' small measurement interfaces into
// metric handles, so those packages never import the catalog.

type accessObserver struct{ m *metrics.Metrics }

func (o accessObserver) MembershipCache(hit bool) {
	if hit {
		o.m.MembershipCacheHits.Inc()
	} else {
		o.m.MembershipCacheMisses.Inc()
	}
}

func (o accessObserver) AccessibleChannelsCache(hit bool) {
	if hit {
		o.m.AccessibleChannelsCacheHits.Inc()
	} else {
		o.m.AccessibleChannelsCacheMisses.Inc()
	}
}

type fanoutObserver struct{ m *metrics.Metrics }

func (o fanoutObserver) SubscriptionsChanged(delta int) { o.m.SubscriptionsActive.Add(int64(delta)) }
func (o fanoutObserver) Delivered(recipients int)       { o.m.FanoutRecipients.Observe(float64(recipients)) }

type auditObserver struct{ m *metrics.Metrics }

func (o auditObserver) Written(d time.Duration, _ int) { o.m.AuditLog.Observe(d.Seconds()) }
func (o auditObserver) WriteFailed()                   { o.m.AuditLogErrors.Inc() }
func (o auditObserver) SendFailed()                    { o.m.AuditSendErrors.Inc() }
