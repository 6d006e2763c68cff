package load

import "testing"

func TestVP8SourceFramesAndBitrate(t *testing.T) {
	s := NewVP8Source(1_500_000, 30)
	total, keys := 0, 0
	for i := range 60 {
		f, key := s.Next()
		ok, w, h := IsVP8Keyframe(f)
		if key != ok {
			t.Fatalf("frame %d: key=%v but header says %v", i, key, ok)
		}
		if key {
			keys++
			if w != 1280 || h != 720 {
				t.Fatalf("keyframe size %dx%d", w, h)
			}
		} else if f[0]&1 != 1 {
			t.Fatalf("interframe %d without the inter bit", i)
		}
		if first := (uint32(f[0]) | uint32(f[1])<<8 | uint32(f[2])<<16) >> 5; int(first) > len(f) {
			t.Fatalf("frame %d: first partition %d > frame %d", i, first, len(f))
		}
		total += len(f)
	}
	if keys != 1 {
		t.Errorf("%d keyframes in 2 s, want 1", keys)
	}
	if bps := total * 8 / 2; bps < 1_450_000 || bps > 1_550_000 {
		t.Errorf("%d bit/s, want ≈1.5 Mbit/s", bps)
	}
	s.RequestKeyframe()
	if _, key := s.Next(); !key {
		t.Error("a requested keyframe did not come next")
	}
}
