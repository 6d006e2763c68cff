package chat

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// cleanText trims text and drops control characters other than newline and
// tab (chat is plain text; clients render it as text, never HTML). It
// reports false for invalid UTF-8.
func cleanText(s string) (string, bool) {
	if !utf8.ValidString(s) {
		return "", false
	}
	s = strings.Map(func(r rune) rune {
		if r == '\n' || r == '\t' {
			return r
		}
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' || r == '\u202e' || r == '\u202d' {
			return -1
		}
		return r
	}, s)
	return strings.TrimSpace(s), true
}

// foldText lower-cases s and maps full-width ASCII to ASCII so that filters
// match "ＤＥＰＯＳＩＴ" like "deposit".
func foldText(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '！' && r <= '～' {
			r = r - '！' + '!'
		}
		return unicode.ToLower(r)
	}, s)
}

// blockedWord returns the first of words contained in text (case- and
// width-insensitive), or "".
func blockedWord(text string, words []string) string {
	if len(words) == 0 {
		return ""
	}
	t := foldText(text)
	for _, w := range words {
		if w = strings.TrimSpace(w); w != "" && strings.Contains(t, foldText(w)) {
			return w
		}
	}
	return ""
}

// defaultScamPhrases are requests for money that job seekers must never be
// asked for in a job fair's chat: deposits, fees and off-platform payment.
var defaultScamPhrases = []string{
	"押金", "培训费", "保证金", "服装费", "体检费", "中介费", "报名费", "介绍费", "工装费", "建档费",
	"先交钱", "先付款", "交钱上岗", "转账给我", "私下转账", "加微信转账", "微信转账", "支付宝转账",
	"deposit", "training fee", "registration fee", "application fee", "uniform fee", "agency fee",
	"processing fee", "pay upfront", "pay up front", "pay in advance", "advance payment",
	"wire transfer", "western union", "gift card", "send money", "pay via wechat", "pay via alipay",
}

// scamPhrase returns the first scam phrase in text, or "".
func scamPhrase(text string, extra []string) string {
	if w := blockedWord(text, defaultScamPhrases); w != "" {
		return w
	}
	return blockedWord(text, extra)
}

// maskPII masks mainland-China mobile numbers (1[3-9]x, optionally with
// +86/86 and space or dash separators), landlines (0xx-xxxxxxx) and
// resident ID-card numbers (18 characters ending in a digit or X, or the old
// 15 digits) in text. It reports whether anything was masked. Digit runs of
// other lengths (salaries, years, counts) are left alone.
func maskPII(text string) (string, bool) {
	rs := []rune(text)
	var out []rune
	masked := false
	i := 0
	for i < len(rs) {
		if !isDigit(rs[i]) && !(rs[i] == '+' && i+1 < len(rs) && isDigit(rs[i+1])) {
			out = append(out, rs[i])
			i++
			continue
		}
		// A run of digits, allowing single space/dash separators between
		// digits and a trailing X (ID cards).
		j := i
		if rs[j] == '+' {
			j++
		}
		var digits []rune
		end := j
		for j < len(rs) {
			if isDigit(rs[j]) {
				digits = append(digits, rs[j])
				j++
				end = j
				continue
			}
			if (rs[j] == ' ' || rs[j] == '-') && j+1 < len(rs) && isDigit(rs[j+1]) && len(digits) > 0 {
				j++
				continue
			}
			if (rs[j] == 'X' || rs[j] == 'x') && len(digits) == 17 {
				digits = append(digits, 'X')
				j++
				end = j
			}
			break
		}
		if keep, ok := maskable(digits); ok {
			// Mask digits in place; separators stay, so the text keeps
			// its shape and length.
			k := 0
			for _, r := range rs[i:end] {
				if isDigit(r) || r == 'X' || r == 'x' {
					if k >= keep && k < len(digits)-2 {
						r = '*'
					}
					k++
				}
				out = append(out, r)
			}
			masked = true
		} else {
			out = append(out, rs[i:end]...)
		}
		i = end
	}
	if !masked {
		return text, false
	}
	return string(out), true
}

func isDigit(r rune) bool { return r >= '0' && r <= '9' }

// maskable reports whether a digit run is a phone or ID number, and how
// many leading characters stay visible (the last two always do).
func maskable(d []rune) (int, bool) {
	n := len(d)
	s := string(d)
	switch {
	case n == 11 && d[0] == '1' && d[1] >= '3' && d[1] <= '9': // mobile
	case n == 13 && strings.HasPrefix(s, "861") && d[3] >= '3' && d[3] <= '9': // 86 + mobile
	case n == 18 && !strings.ContainsRune(s[:17], 'X'): // ID card (17 digits + check)
	case n == 15 && d[0] != '0': // old ID card
	case (n == 10 || n == 11 || n == 12) && d[0] == '0': // landline with area code
	default:
		return 0, false
	}
	return 3, true
}
