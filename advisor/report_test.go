package advisor

import (
	"context"
	"slices"
	"testing"

	"jobcast/live"
	"jobcast/store"
)

// reportStore is a Store whose only answer is RoomReport.
type reportStore struct {
	Store
	counts store.RoomReportCounts
}

func (s reportStore) RoomReport(context.Context, live.RoomID) (store.RoomReportCounts, error) {
	return s.counts, nil
}

func TestBuildReport(t *testing.T) {
	counts := store.RoomReportCounts{
		Employers: 2, ShelfJobs: 3, UniqueVisitors: 4, Seekers: 3, SeekersRecommended: 3, SeekersWith3: 2,
		Applications: 5, FollowUps: map[string]int{"hired": 2},
		PerJob: []store.JobApplications{
			{JobID: "j1", OrgID: "b", Applications: 1}, {JobID: "j2", OrgID: "a", Applications: 2}, {JobID: "j3", OrgID: "b", Applications: 2},
			{JobID: "j4", OrgID: "c", Applications: 0},
		},
	}
	s := New(reportStore{counts: counts}, nil, nil, nil)
	r, err := s.BuildReport(context.Background(), live.Room{ID: "room"})
	if err != nil {
		t.Fatal(err)
	}
	if r.Seekers.Recommended3PlusPct != 66.6 {
		t.Fatalf("pct %v, want 66.6 (rounded down: never overstate)", r.Seekers.Recommended3PlusPct)
	}
	var orgs []string
	for _, e := range r.Apps.PerEmployer {
		orgs = append(orgs, string(e.OrgID))
	}
	if !slices.Equal(orgs, []string{"b", "a", "c"}) || r.Apps.PerEmployer[0].Applications != 3 || r.Apps.PerEmployer[0].Jobs != 2 {
		t.Fatalf("per employer: %+v", r.Apps.PerEmployer)
	}
	if r.FollowUps.Total != 2 || len(r.FollowUps.ByOutcome) != len(store.Outcomes) || r.FollowUps.ByOutcome["contacted"] != 0 {
		t.Fatalf("follow-ups: %+v", r.FollowUps)
	}
	if r.Viewers.Peak != nil {
		t.Fatal("a room never sampled has no peak (null)")
	}
}

func TestCSVCellsNeutraliseFormulas(t *testing.T) {
	tests := []struct{ in, want string }{
		{"=HYPERLINK(\"x\")", "'=HYPERLINK(\"x\")"},
		{"+1", "'+1"},
		{"-2", "'-2"},
		{"@SUM", "'@SUM"},
		{"\tx", "'\tx"},
		{"Forklift driver", "Forklift driver"},
		{"叉车司机", "叉车司机"},
		{"", ""},
	}
	for _, tc := range tests {
		if got := cells(tc.in)[0]; got != tc.want {
			t.Errorf("cells(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
