package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"jobcast/live"
)

// MaxJSONBody is the default cap on JSON request bodies.
const MaxJSONBody = 64 << 10

// DecodeJSON reads one JSON object from r's body into dst: at most max bytes
// (413 past it), unknown fields and trailing data rejected, type errors named
// by field. It returns a *live.Error on any failure; dst must not be used
// then.
func DecodeJSON(r *http.Request, dst any, max int64) error {
	if max <= 0 {
		max = MaxJSONBody
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(strings.ToLower(ct), "application/json") {
		return &live.Error{Kind: live.KindUnsupported, Code: "unsupported_media_type", Message: "send application/json"}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, max+1))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return tooLarge(max)
		}
		return live.Invalid("bad_body", "could not read the request body")
	}
	if int64(len(body)) > max {
		return tooLarge(max)
	}
	return DecodeJSONBytes(body, dst)
}

// DecodeJSONBytes is DecodeJSON on a body already read.
func DecodeJSONBytes(body []byte, dst any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return live.Invalid("empty_body", "a JSON body is required")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return live.Invalid("malformed_json", "the body must be a single JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return live.Invalid("malformed_json", "the body must be a single JSON object")
	}
	return nil
}

func tooLarge(max int64) error {
	return &live.Error{Kind: live.KindTooLarge, Code: "body_too_large", Message: "the request body is larger than " + humanBytes(max)}
}

func humanBytes(n int64) string {
	if n%1024 == 0 {
		return itoa(n/1024) + " KiB"
	}
	return itoa(n) + " bytes"
}

func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF):
		return live.Invalid("malformed_json", "the body is not valid JSON")
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return live.Invalid("malformed_json", "the body must be a JSON object")
		}
		return &live.Error{Kind: live.KindInvalid, Code: "wrong_type", Message: field + " must be " + jsonKind(typ.Type.Kind().String()), Fields: []string{field}}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &live.Error{Kind: live.KindInvalid, Code: "unknown_field", Message: "unknown field " + name, Fields: []string{name}}
	}
	return live.Invalid("malformed_json", "the body is not valid JSON")
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64", "float32", "float64":
		return "a number"
	case "bool":
		return "true or false"
	case "slice", "array":
		return "an array"
	case "struct", "map":
		return "an object"
	}
	return "of another type"
}
