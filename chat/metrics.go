package chat

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	connections prometheus.Gauge
	published   prometheus.Counter
	delivered   prometheus.Counter
	slow        prometheus.Counter
	recoveries  *prometheus.CounterVec
	chat        *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, broker Broker) *metrics {
	m := &metrics{
		connections: prometheus.NewGauge(prometheus.GaugeOpts{Name: "jobcast_ws_connections", Help: "Open WebSocket connections on this node."}),
		published:   prometheus.NewCounter(prometheus.CounterOpts{Name: "jobcast_ws_events_published_total", Help: "Ordered events published to room streams from this node."}),
		delivered:   prometheus.NewCounter(prometheus.CounterOpts{Name: "jobcast_ws_events_delivered_total", Help: "Events queued to connections on this node (one per recipient)."}),
		slow:        prometheus.NewCounter(prometheus.CounterOpts{Name: "jobcast_ws_slow_disconnects_total", Help: "Connections closed because their send queue overflowed."}),
		recoveries:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "jobcast_ws_recoveries_total", Help: "Reconnects with since/epoch, by result (ok: every missed event replayed; failed: snapshot instead)."}, []string{"result"}),
		chat:        prometheus.NewCounterVec(prometheus.CounterOpts{Name: "jobcast_chat_messages_total", Help: "Chat messages received, by outcome."}, []string{"outcome"}),
	}
	if reg == nil {
		return m
	}
	reg.MustRegister(m.connections, m.published, m.delivered, m.slow, m.recoveries, m.chat)
	if r, ok := broker.(interface{ Reconnects() uint64 }); ok {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "jobcast_broker_reconnects_total", Help: "Times the broker's subscription connection was lost and re-established.",
		}, func() float64 { return float64(r.Reconnects()) }))
	}
	return m
}
