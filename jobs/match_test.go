package jobs

import (
	"slices"
	"testing"

	"jobcast/live"
)

func job(id, title, city string, openings int, tags ...string) live.Job {
	return live.Job{ID: live.JobID(id), Title: title, City: city, Openings: openings, Tags: tags, Status: live.JobOpen, SalaryPeriod: live.PerMonth}
}

func ids(rs []Recommendation) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r.Card.JobID)
	}
	return out
}

func codes(r Recommendation) []string {
	var out []string
	for _, x := range r.Reasons {
		out = append(out, x.Code)
	}
	return out
}

func TestScore(t *testing.T) {
	tests := []struct {
		name    string
		p       live.Profile
		j       live.Job
		onShelf bool
		want    int
		reasons []string
	}{
		{"nothing in common", live.Profile{City: "Wuhan"}, job("a", "Cook", "Beijing", 1), true, 0, nil},
		{"same city", live.Profile{City: "Wuhan"}, job("a", "Cook", "Wuhan", 1), false, wSameCity, []string{ReasonSameCity}},
		{"same city ignores 市 and case", live.Profile{City: "武汉市"}, job("a", "Cook", "武汉", 1), false, wSameCity, []string{ReasonSameCity}},
		{"city mismatch but remote", live.Profile{City: "Wuhan"}, job("a", "Support", "Shenzhen", 1, live.TagRemote), false, wRemote, []string{ReasonRemote}},
		{"skill in title, on shelf", live.Profile{Skills: []string{"Forklift"}}, job("a", "forklift driver", "", 1), true, wSkill + wOnShelf, []string{ReasonSkill, ReasonOnShelf}},
		{"skills capped at three", live.Profile{Skills: []string{"a1", "b2", "c3", "d4"}}, live.Job{ID: "a", Title: "a1 b2 c3 d4", Status: live.JobOpen}, false, 3 * wSkill, []string{ReasonSkill, ReasonSkill, ReasonSkill}},
		{"accessibility needs meet accessible post", live.Profile{AccessibilityNeeds: "wheelchair"}, job("a", "Clerk", "", 1, live.TagAccessible), false, wAccessible, []string{ReasonAccessible}},
		{"accessible post, no needs stated", live.Profile{}, job("a", "Clerk", "", 1, live.TagAccessible), false, 0, nil},
		{"graduate", live.Profile{Summary: "2026届应届毕业生", Skills: []string{"excel"}}, job("a", "Trainee", "", 1, live.TagGraduate, live.TagNoExperience), false, wGraduate + wNoExperience, []string{ReasonGraduate, ReasonNoExperience}},
		{"no experience for seeker without skills", live.Profile{}, job("a", "Packer", "", 1, live.TagNoExperience), false, wNoExperience, []string{ReasonNoExperience}},
		{"no experience, seeker has skills", live.Profile{Skills: []string{"welding"}}, job("a", "Packer", "", 1, live.TagNoExperience), false, 0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, reasons := Score(tc.p, tc.j, tc.onShelf)
			var rc []string
			for _, r := range reasons {
				rc = append(rc, r.Code)
			}
			if got != tc.want || !slices.Equal(rc, tc.reasons) {
				t.Fatalf("Score = %d %v, want %d %v", got, rc, tc.want, tc.reasons)
			}
		})
	}
}

func TestRecommend(t *testing.T) {
	wuhan := live.Profile{City: "Wuhan", Skills: []string{"forklift"}}
	needs := live.Profile{City: "Wuhan", AccessibilityNeeds: "hearing impaired"}
	closed := job("closed", "forklift", "Wuhan", 9)
	closed.Status = live.JobClosed
	tests := []struct {
		name    string
		p       live.Profile
		cands   []Candidate
		applied map[live.JobID]bool
		max     int
		want    []string
	}{
		{
			name: "best match first, shelf before elsewhere",
			p:    wuhan,
			cands: []Candidate{
				{Job: job("city-only", "Cook", "Wuhan", 1), OnShelf: true},
				{Job: job("city-skill", "forklift driver", "Wuhan", 1), RoomID: "other"},
				{Job: job("skill-only", "forklift", "Beijing", 1), OnShelf: true},
			},
			max:  5,
			want: []string{"city-skill", "city-only", "skill-only"},
		},
		{
			name: "ties broken by shelf, then openings, then id",
			p:    live.Profile{City: "Wuhan"},
			cands: []Candidate{
				{Job: job("b", "x", "Wuhan", 1)},
				{Job: job("a", "x", "Wuhan", 1)},
				{Job: job("c", "x", "Wuhan", 5)},
				{Job: job("d", "x", "Wuhan", 1), OnShelf: true},
			},
			max:  5,
			want: []string{"d", "c", "a", "b"},
		},
		{
			name: "accessibility needs put accessible posts first",
			p:    needs,
			cands: []Candidate{
				{Job: job("city", "Cook", "Wuhan", 3), OnShelf: true},
				{Job: job("acc-far", "Clerk", "Beijing", 1, live.TagAccessible)},
				{Job: job("acc-city", "Clerk", "Wuhan", 1, live.TagAccessible), OnShelf: true},
			},
			max:  5,
			want: []string{"acc-city", "acc-far", "city"},
		},
		{
			name: "no matches: still three, shelf first",
			p:    live.Profile{City: "Lhasa"},
			cands: []Candidate{
				{Job: job("e1", "x", "Beijing", 1)},
				{Job: job("s1", "x", "Beijing", 1), OnShelf: true},
				{Job: job("e2", "x", "Beijing", 7)},
				{Job: job("e3", "x", "Beijing", 2)},
			},
			max:  5,
			want: []string{"s1", "e2", "e3"},
		},
		{
			name: "one match, filled up to three",
			p:    wuhan,
			cands: []Candidate{
				{Job: job("m", "forklift", "Beijing", 1)},
				{Job: job("f1", "x", "Beijing", 1)},
				{Job: job("f2", "x", "Beijing", 2)},
				{Job: job("f3", "x", "Beijing", 3)},
			},
			max:  5,
			want: []string{"m", "f3", "f2"},
		},
		{
			name:  "fewer than three exist",
			p:     wuhan,
			cands: []Candidate{{Job: job("only", "x", "Beijing", 1)}},
			max:   5,
			want:  []string{"only"},
		},
		{
			name: "applied, closed and duplicate jobs left out",
			p:    wuhan,
			cands: []Candidate{
				{Job: closed},
				{Job: job("applied", "forklift", "Wuhan", 1)},
				{Job: job("a", "forklift", "Wuhan", 1), OnShelf: true},
				{Job: job("a", "forklift", "Wuhan", 1)},
				{Job: job("b", "x", "Beijing", 1)},
			},
			applied: map[live.JobID]bool{"applied": true},
			max:     5,
			want:    []string{"a", "b"},
		},
		{
			name: "max caps matches but never below three",
			p:    live.Profile{City: "Wuhan"},
			cands: []Candidate{
				{Job: job("a", "x", "Wuhan", 4)}, {Job: job("b", "x", "Wuhan", 3)},
				{Job: job("c", "x", "Wuhan", 2)}, {Job: job("d", "x", "Wuhan", 1)},
			},
			max:  1,
			want: []string{"a", "b", "c"},
		},
		{name: "nothing at all", p: wuhan, max: 5, want: []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Recommend(tc.p, tc.cands, tc.applied, tc.max)
			if !slices.Equal(ids(got), tc.want) {
				t.Fatalf("Recommend = %v, want %v", ids(got), tc.want)
			}
			for _, r := range got {
				if len(r.Reasons) == 0 {
					t.Errorf("%s has no reason", r.Card.JobID)
				}
			}
			// Deterministic whatever the input order.
			rev := slices.Clone(tc.cands)
			slices.Reverse(rev)
			if again := Recommend(tc.p, rev, tc.applied, tc.max); !slices.Equal(ids(again), ids(got)) {
				t.Fatalf("order-dependent: %v vs %v", ids(again), ids(got))
			}
		})
	}
}

func TestRecommendExplainsFillers(t *testing.T) {
	got := Recommend(live.Profile{}, []Candidate{
		{Job: job("s", "x", "", 1), OnShelf: true},
		{Job: job("e", "x", "", 1), RoomID: "r2"},
	}, nil, 3)
	if len(got) != 2 || !slices.Equal(codes(got[0]), []string{ReasonOnShelf}) || !slices.Equal(codes(got[1]), []string{ReasonOpen}) {
		t.Fatalf("fillers not explained: %+v", got)
	}
	if got[1].RoomID != "r2" {
		t.Fatalf("room of an elsewhere job lost: %+v", got[1])
	}
}
