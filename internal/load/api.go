package load

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// API is a small REST client for the endpoints the load run drives. It is
// safe for concurrent use.
type API struct {
	Base string // http://host:port
	HTTP *http.Client
}

// NewAPI returns a client for base with a connection pool sized for bursts.
func NewAPI(base string) *API {
	return &API{Base: strings.TrimRight(base, "/"), HTTP: &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{MaxIdleConns: 2048, MaxIdleConnsPerHost: 2048, MaxConnsPerHost: 2048, IdleConnTimeout: time.Minute},
	}}
}

// APIError is a non-2xx answer in jobcast's error shape.
type APIError struct {
	Status     int
	Code       string
	RetryAfter time.Duration
}

func (e *APIError) Error() string { return fmt.Sprintf("status %d %s", e.Status, e.Code) }

// Do sends a JSON request (body may be nil) with an optional bearer token
// and decodes a 2xx answer into out (may be nil). It returns the status. It
// blocks for one round trip bounded by ctx and the client's timeout.
func (a *API) Do(ctx context.Context, method, path, token string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.Base+path, rd)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := a.HTTP.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	if err != nil {
		return res.StatusCode, err
	}
	if res.StatusCode/100 != 2 {
		var e struct {
			Error struct{ Code string } `json:"error"`
		}
		_ = json.Unmarshal(data, &e)
		ae := &APIError{Status: res.StatusCode, Code: e.Error.Code}
		if s, err := strconv.Atoi(res.Header.Get("Retry-After")); err == nil {
			ae.RetryAfter = time.Duration(s) * time.Second
		}
		return res.StatusCode, ae
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return res.StatusCode, fmt.Errorf("%s %s: decoding answer: %w", method, path, err)
		}
	}
	return res.StatusCode, nil
}

// retry429 repeats f while it fails with 429, honouring Retry-After, until
// ctx ends.
func retry429(ctx context.Context, f func() error) error {
	for {
		err := f()
		ae, ok := err.(*APIError)
		if !ok || ae.Status != http.StatusTooManyRequests {
			return err
		}
		wait := max(ae.RetryAfter, time.Second)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// Pin pins a shelved job as host.
func (a *API) Pin(ctx context.Context, f *Fair, job string) error {
	_, err := a.Do(ctx, http.MethodPost, "/api/rooms/"+f.Room+"/pin", f.HostToken, map[string]string{"job_id": job}, nil)
	return err
}

// Apply applies for a job as the seeker with token; created is false for a
// repeat answered 200.
func (a *API) Apply(ctx context.Context, f *Fair, token, job string) (status int, err error) {
	return a.Do(ctx, http.MethodPost, "/api/rooms/"+f.Room+"/jobs/"+job+"/apply", token, nil, nil)
}

// RotateStreamKey issues a new stream key for the room (host only).
func (a *API) RotateStreamKey(ctx context.Context, f *Fair) (string, error) {
	var out struct {
		Key string `json:"key"`
	}
	_, err := a.Do(ctx, http.MethodPost, "/api/rooms/"+f.Room+"/stream-key/rotate", f.HostToken, nil, &out)
	return out.Key, err
}

// Register builds a fair through the public API on a remote server: a host
// with an org, a room and jobs on its shelf, and seekers with complete
// profiles. Registration is rate limited per client IP (burst 20, then one
// per 3 s), so this suits a few dozen accounts; use Seed for thousands.
// The room stays scheduled until a publisher goes live. It blocks until
// every account exists or ctx ends.
func (a *API) Register(ctx context.Context, seekers, jobs int) (*Fair, error) {
	run := fmt.Sprintf("%x", time.Now().UnixNano())
	register := func(name string) (string, error) {
		var out struct {
			Token string `json:"token"`
		}
		err := retry429(ctx, func() error {
			_, err := a.Do(ctx, http.MethodPost, "/api/auth/register", "", map[string]string{
				"email": name + "-" + run + "@load.invalid", "password": "load-" + run, "name": name}, &out)
			return err
		})
		return out.Token, err
	}
	f := &Fair{}
	var err error
	if f.HostToken, err = register("load-host"); err != nil {
		return nil, fmt.Errorf("registering host: %w", err)
	}
	var org struct {
		Org struct{ ID string } `json:"org"`
	}
	if _, err := a.Do(ctx, http.MethodPost, "/api/orgs", f.HostToken, map[string]string{"name": "Load test " + run}, &org); err != nil {
		return nil, fmt.Errorf("creating org: %w", err)
	}
	f.Org = org.Org.ID
	var room struct{ ID string }
	if _, err := a.Do(ctx, http.MethodPost, "/api/rooms", f.HostToken, map[string]string{"title": "Load test " + run, "org_id": f.Org}, &room); err != nil {
		return nil, fmt.Errorf("creating room: %w", err)
	}
	f.Room = room.ID
	for i := range jobs {
		var j struct{ ID string }
		if _, err := a.Do(ctx, http.MethodPost, "/api/orgs/"+f.Org+"/jobs", f.HostToken, map[string]any{
			"title": fmt.Sprintf("Load job %d", i), "city": "Wuhan", "salary_min": 4000, "salary_max": 6000, "openings": 5}, &j); err != nil {
			return nil, fmt.Errorf("creating job: %w", err)
		}
		if _, err := a.Do(ctx, http.MethodPost, "/api/rooms/"+f.Room+"/shelf", f.HostToken, map[string]string{"job_id": j.ID}, nil); err != nil {
			return nil, fmt.Errorf("shelving job: %w", err)
		}
		f.Jobs = append(f.Jobs, j.ID)
	}
	for i := range seekers {
		tok, err := register(fmt.Sprintf("load-seeker-%d", i))
		if err != nil {
			return nil, fmt.Errorf("registering seeker %d: %w", i, err)
		}
		if _, err := a.Do(ctx, http.MethodPut, "/api/me/profile", tok, map[string]string{
			"full_name": fmt.Sprintf("Seeker %d", i), "phone": fmt.Sprintf("138%08d", i), "city": "Wuhan"}, nil); err != nil {
			return nil, fmt.Errorf("seeker profile: %w", err)
		}
		f.Seekers = append(f.Seekers, tok)
	}
	return f, nil
}
