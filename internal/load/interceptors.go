package load

import (
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
)

// interceptorRegistry wraps pion's default interceptors (NACK, RTCP
// reports, TWCC) so the clients behave like browsers.
type interceptorRegistry struct{ r *interceptor.Registry }

func (i *interceptorRegistry) register(m *webrtc.MediaEngine) error {
	i.r = &interceptor.Registry{}
	return webrtc.RegisterDefaultInterceptors(m, i.r)
}
