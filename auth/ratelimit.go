package auth

import "jobcast/internal/ratelimit"

// Limit is a token bucket: Every is the refill interval of one token, Burst
// the bucket size. The zero value takes the service's default.
type Limit = ratelimit.Limit
