package moderation

import (
	"reflect"
	"testing"

	"jobcast/httpx"
	"jobcast/live"
)

// FuzzSettingsPatch feeds arbitrary PATCH bodies through the strict decoder
// and the merge: every outcome is either a user-facing error or valid,
// normalized settings in which the fields the patch did not name are kept.
func FuzzSettingsPatch(f *testing.F) {
	for _, s := range []string{
		`{"slow_mode_seconds":30}`, `{"chat":"off"}`, `{"chat":"loud"}`, `{"blocked_words":[" a ","A","b"]}`,
		`{"mask_pii":false,"hold_scams":false}`, `{"slow_mode_seconds":-1}`, `{"blocked_words":null}`, `{}`, `[]`,
		`{"slow_mode_seconds":1e3}`, `{"reason":"x","chat":"profile_complete"}`, `{"extra":1}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var p SettingsPatch
		if err := httpx.DecodeJSONBytes(body, &p); err != nil {
			if _, ok := live.AsError(err); !ok {
				t.Fatalf("decoder error is not user-facing: %v", err)
			}
			return
		}
		cur := live.DefaultSettings()
		cur.BlockedWords = []string{"keep"}
		set, changed, err := p.apply(cur)
		if err != nil {
			if e, ok := live.AsError(err); !ok || e.Kind != live.KindInvalid || len(e.Fields) != 1 {
				t.Fatalf("merge error %v", err)
			}
			return
		}
		if err := set.Validate(); err != nil {
			t.Fatalf("accepted invalid settings %+v: %v", set, err)
		}
		again := set
		again.BlockedWords = append([]string(nil), set.BlockedWords...)
		again.Normalize()
		if !reflect.DeepEqual(again, set) {
			t.Fatalf("not normalized: %+v", set)
		}
		if p.Chat == nil && set.Chat != cur.Chat || p.SlowModeSeconds == nil && set.SlowModeSeconds != cur.SlowModeSeconds ||
			p.BlockedWords == nil && !reflect.DeepEqual(set.BlockedWords, cur.BlockedWords) ||
			p.MaskPII == nil && set.MaskPII != cur.MaskPII || p.HoldScams == nil && set.HoldScams != cur.HoldScams {
			t.Fatalf("patch %+v changed a field it did not name: %+v", p, set)
		}
		if len(changed) == 0 && !p.empty() {
			t.Fatalf("changes not recorded for %+v", p)
		}
	})
}
