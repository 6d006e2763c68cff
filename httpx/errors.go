package httpx

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"jobcast/live"
)

// ErrorBody is the JSON shape of every error answer:
// {"error":{"code":"snake_case","message":"human text"}}.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the inside of ErrorBody.
type ErrorDetail struct {
	Code    string   `json:"code"`
	Message string   `json:"message"`
	Fields  []string `json:"fields,omitempty"`
}

// Status and body for err: a *live.Error in the chain keeps its kind and
// code; anything else is a 500 "internal" with no detail for the client.
func errorAnswer(err error) (int, ErrorBody, *live.Error) {
	if e, ok := live.AsError(err); ok {
		return e.Kind.Status(), ErrorBody{ErrorDetail{Code: e.Code, Message: e.Message, Fields: e.Fields}}, e
	}
	return http.StatusInternalServerError, ErrorBody{ErrorDetail{Code: "internal", Message: "internal error, try again"}}, nil
}

// WriteError writes err in the error shape to a plain http.ResponseWriter.
// Internal errors are logged once here (the edge) without personal data.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	status, body, e := errorAnswer(err)
	if e == nil {
		slog.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if e != nil && e.RetryAfter > 0 {
		w.Header().Set("Retry-After", retryAfter(e))
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// Fail aborts a Gin request with err in the error shape.
func Fail(c *gin.Context, err error) {
	status, body, e := errorAnswer(err)
	if e == nil {
		slog.ErrorContext(c.Request.Context(), "request failed",
			"method", c.Request.Method, "route", c.FullPath(), "request_id", RequestID(c), "err", err)
	}
	if e != nil && e.RetryAfter > 0 {
		c.Header("Retry-After", retryAfter(e))
	}
	c.AbortWithStatusJSON(status, body)
}

func retryAfter(e *live.Error) string {
	secs := int((e.RetryAfter + 999_999_999) / 1_000_000_000)
	if secs < 1 {
		secs = 1
	}
	return strconv.Itoa(secs)
}
