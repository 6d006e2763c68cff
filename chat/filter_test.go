package chat

import (
	"testing"
	"unicode/utf8"

	"jobcast/live"
)

func TestMaskPII(t *testing.T) {
	cases := []struct {
		name, in, want string
		masked         bool
	}{
		{"mobile", "call 13812345678 now", "call 138******78 now", true},
		{"mobile with spaces", "138 1234 5678", "138 **** **78", true},
		{"mobile with +86", "+86 138-1234-5678", "+86 1**-****-**78", true},
		{"landline", "tel 010-12345678", "tel 010-******78", true},
		{"id card", "身份证11010519491231002X", "身份证110*************2X", true},
		{"id card digits", "110105194912310021", "110*************21", true},
		{"old id", "110105491231002", "110**********02", true},
		{"salary range", "salary 8000-12000 per month", "salary 8000-12000 per month", false},
		{"year and count", "since 2015, 300 openings", "since 2015, 300 openings", false},
		{"two numbers", "a 13812345678 b 13987654321", "a 138******78 b 139******21", true},
		{"not a mobile", "12812345678", "12812345678", false},
		{"empty", "", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, masked := maskPII(tc.in)
			if got != tc.want || masked != tc.masked {
				t.Fatalf("maskPII(%q) = %q, %v; want %q, %v", tc.in, got, masked, tc.want, tc.masked)
			}
		})
	}
}

func TestFilters(t *testing.T) {
	if w := blockedWord("Buy at ＳＰＡＭＣＯ", []string{" spamco "}); w != "spamco" {
		t.Fatalf("blocked = %q", w)
	}
	if w := blockedWord("all fine", []string{"spamco", ""}); w != "" {
		t.Fatalf("blocked = %q", w)
	}
	for _, s := range []string{"请先交培训费", "A small DEPOSIT is needed", "pay via WeChat first", "保证金200"} {
		if scamPhrase(s, nil) == "" {
			t.Errorf("not held: %q", s)
		}
	}
	for _, s := range []string{"what are the hours?", "五险一金", "training is free"} {
		if p := scamPhrase(s, nil); p != "" {
			t.Errorf("held %q for %q", s, p)
		}
	}
	if scamPhrase("pay the bond", []string{"bond"}) == "" {
		t.Error("extra phrase not held")
	}
	if got, ok := cleanText(" a\x00b\u202ec\n "); !ok || got != "abc" {
		t.Fatalf("cleanText = %q %v", got, ok)
	}
	if _, ok := cleanText("\xff"); ok {
		t.Fatal("invalid UTF-8 accepted")
	}
}

func FuzzMaskPII(f *testing.F) {
	for _, s := range []string{"13812345678", "+86 138 1234 5678", "11010519491231002X", "8000-12000", "0-0-0", "+", "1 2 3 4 5 6 7 8 9 0 1", "好13812345678好"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return
		}
		got, masked := maskPII(s)
		if !masked && got != s {
			t.Fatalf("changed without masking: %q → %q", s, got)
		}
		if utf8.RuneCountInString(got) != utf8.RuneCountInString(s) {
			t.Fatalf("length changed: %q → %q", s, got)
		}
		if again, _ := maskPII(got); again != got {
			t.Fatalf("not idempotent: %q → %q → %q", s, got, again)
		}
	})
}

func FuzzDecodeClientMessage(f *testing.F) {
	for _, s := range []string{`{"type":"chat","text":"hi","nonce":"1"}`, `{"type":"ping"}`, `{}`, `[]`, `{"type":"chat"}{}`, `{"type":1}`, `{"x":1}`, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeClientMessage(b)
		if err != nil {
			if _, ok := live.AsError(err); !ok {
				t.Fatalf("error is not a live.Error: %v", err)
			}
			return
		}
		if len(m.Nonce) > maxNonceLen {
			t.Fatalf("long nonce accepted")
		}
	})
}
