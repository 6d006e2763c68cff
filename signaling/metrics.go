package signaling

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are plain atomics on the hot path, exported to Prometheus through
// func collectors, so forwarding a packet costs two atomic adds and no
// label lookups.
type metrics struct {
	publishers atomic.Int64
	viewers    atomic.Int64
	packets    atomic.Uint64 // RTP packets written to viewers (one per viewer)
	bytes      atomic.Uint64 // RTP payload+header bytes written to viewers
	dropped    atomic.Uint64 // packets dropped because a fan-out shard lagged
	plis       atomic.Uint64 // keyframe requests sent to publishers
	nacked     atomic.Uint64 // packets retransmitted to viewers on NACK
	rejected   atomic.Uint64 // WHIP/WHEP requests answered with an error
}

func (m *metrics) register(r prometheus.Registerer) error {
	if r == nil {
		return nil
	}
	cs := []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "jobcast_media_publishers", Help: "WHIP publishers connected to this node."},
			func() float64 { return float64(m.publishers.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "jobcast_media_viewers", Help: "WHEP viewer sessions on this node."},
			func() float64 { return float64(m.viewers.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "jobcast_media_rtp_packets_forwarded_total", Help: "RTP packets written to viewers (one per viewer)."},
			func() float64 { return float64(m.packets.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "jobcast_media_rtp_bytes_forwarded_total", Help: "RTP bytes written to viewers, before SRTP."},
			func() float64 { return float64(m.bytes.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "jobcast_media_rtp_packets_dropped_total", Help: "RTP packets dropped because a fan-out shard fell behind."},
			func() float64 { return float64(m.dropped.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "jobcast_media_rtp_packets_retransmitted_total", Help: "RTP packets sent again to viewers that NACKed them."},
			func() float64 { return float64(m.nacked.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "jobcast_media_plis_sent_total", Help: "Keyframe requests (PLI) sent to publishers."},
			func() float64 { return float64(m.plis.Load()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "jobcast_media_requests_rejected_total", Help: "WHIP/WHEP requests answered with an error status."},
			func() float64 { return float64(m.rejected.Load()) }),
	}
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			return err
		}
	}
	return nil
}
