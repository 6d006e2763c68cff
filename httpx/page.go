package httpx

import (
	"strconv"

	"github.com/gin-gonic/gin"

	"jobcast/live"
)

// List paging: every list takes ?limit= (1–MaxPage, default DefaultPage)
// and ?offset= (≥ 0) and answers {"<items>":[…], "next_offset": N|null}.
const (
	DefaultPage = 50
	MaxPage     = 200
)

// Page reads ?limit= and ?offset=, aborting with 400 invalid_query (and
// returning false) when either is malformed or out of range.
func Page(c *gin.Context) (limit, offset int, ok bool) {
	limit, offset, err := ParsePage(c)
	if err != nil {
		Fail(c, err)
		return 0, 0, false
	}
	return limit, offset, true
}

// ParsePage reads ?limit= and ?offset= and returns an invalid_query
// *live.Error when either is malformed or out of range.
func ParsePage(c *gin.Context) (limit, offset int, err error) {
	limit = DefaultPage
	bad := func(field, msg string) (int, int, error) {
		return 0, 0, &live.Error{Kind: live.KindInvalid, Code: "invalid_query", Message: msg, Fields: []string{field}}
	}
	if v := c.Query("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxPage {
			return bad("limit", "limit must be a number from 1 to 200")
		}
		limit = n
	}
	if v := c.Query("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 1_000_000 {
			return bad("offset", "offset must be a number from 0")
		}
		offset = n
	}
	return limit, offset, nil
}

// NextOffset is the next_offset of a page: nil on the last page.
func NextOffset(offset, limit int, more bool) *int {
	if !more {
		return nil
	}
	n := offset + limit
	return &n
}
