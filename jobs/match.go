package jobs

import (
	"cmp"
	"slices"
	"strings"

	"jobcast/live"
)

// MinRecommendations is how many jobs every seeker is shown (精准推送).
const MinRecommendations = 3

// Reason explains one part of a recommendation's score. Code is stable and
// translated by clients; Value is the matched thing (a city, a skill).
type Reason struct {
	Code  string `json:"code"`
	Value string `json:"value,omitempty"`
}

// Reason codes.
const (
	ReasonAccessible   = "accessible"     // disability-friendly post for a seeker who stated needs
	ReasonSameCity     = "same_city"      // the job is in the seeker's city
	ReasonRemote       = "remote"         // the job is remote, city does not matter
	ReasonSkill        = "skill"          // a stated skill appears in the job
	ReasonGraduate     = "graduate"       // open to graduates, seeker is one
	ReasonNoExperience = "no_experience"  // no experience needed, seeker lists none
	ReasonOnShelf      = "on_shelf"       // presented in this room
	ReasonOpen         = "open_elsewhere" // filler: open in another live or upcoming fair
)

// Recommendation is one ranked job for one seeker.
type Recommendation struct {
	Card    live.JobCard `json:"card"`
	RoomID  live.RoomID  `json:"room_id,omitempty"` // where the job is presented
	Score   int          `json:"score"`
	Reasons []Reason     `json:"reasons"`
}

// Candidate is a job that may be recommended, with where it is presented.
type Candidate struct {
	Job        live.Job
	RoomID     live.RoomID
	OnShelf    bool // on the shelf of the room the seeker is watching
	Applicants int
}

// Weights of the score parts. Accessibility dominates for a seeker who
// stated needs: such a seeker sees accessible posts first.
const (
	wAccessible   = 100
	wSameCity     = 30
	wRemote       = 20
	wSkill        = 15 // per matched skill, at most maxSkillHits
	maxSkillHits  = 3
	wGraduate     = 12
	wNoExperience = 10
	wOnShelf      = 5
)

// graduateWords mark a seeker as a (recent) graduate in their summary.
var graduateWords = []string{"graduate", "应届", "毕业", "高校毕业生", "大学生"}

// Score rates one job for one profile and explains why. A score of 0 with no
// reasons means nothing in the profile speaks for the job. Deterministic.
func Score(p live.Profile, j live.Job, onShelf bool) (int, []Reason) {
	score, reasons := 0, []Reason{}
	add := func(w int, r Reason) { score += w; reasons = append(reasons, r) }

	if strings.TrimSpace(p.AccessibilityNeeds) != "" && j.HasTag(live.TagAccessible) {
		add(wAccessible, Reason{Code: ReasonAccessible})
	}
	switch {
	case p.City != "" && j.City != "" && sameCity(p.City, j.City):
		add(wSameCity, Reason{Code: ReasonSameCity, Value: j.City})
	case j.HasTag(live.TagRemote):
		add(wRemote, Reason{Code: ReasonRemote})
	}
	hay := strings.ToLower(j.Title + "\n" + j.Description + "\n" + strings.Join(j.Tags, " "))
	hits := 0
	for _, s := range p.Skills {
		k := strings.ToLower(strings.TrimSpace(s))
		if k == "" || hits == maxSkillHits || !strings.Contains(hay, k) {
			continue
		}
		hits++
		add(wSkill, Reason{Code: ReasonSkill, Value: s})
	}
	if j.HasTag(live.TagGraduate) && isGraduate(p) {
		add(wGraduate, Reason{Code: ReasonGraduate})
	}
	if j.HasTag(live.TagNoExperience) && (len(p.Skills) == 0 || isGraduate(p)) {
		add(wNoExperience, Reason{Code: ReasonNoExperience})
	}
	if onShelf && score > 0 {
		add(wOnShelf, Reason{Code: ReasonOnShelf})
	}
	return score, reasons
}

// Recommend ranks the candidates for a seeker and returns at least
// MinRecommendations of them when that many exist (fewer only if fewer
// candidates exist at all), at most max. Jobs already applied to and closed
// jobs are left out. Order: jobs that match (by score), shelf before
// elsewhere on ties, then more openings, then job id — so equal inputs give
// equal outputs. When fewer than MinRecommendations match, the best of the
// rest fill up, shelf first, each explained as on the shelf or open
// elsewhere.
func Recommend(p live.Profile, cands []Candidate, applied map[live.JobID]bool, max int) []Recommendation {
	if max < MinRecommendations {
		max = MinRecommendations
	}
	type ranked struct {
		Recommendation
		onShelf  bool
		openings int
	}
	seen := map[live.JobID]bool{}
	var matched, rest []ranked
	for _, c := range cands {
		j := c.Job
		if j.Status != live.JobOpen || applied[j.ID] || seen[j.ID] {
			continue
		}
		seen[j.ID] = true
		score, reasons := Score(p, j, c.OnShelf)
		r := ranked{Recommendation{Card: j.Card(c.Applicants), RoomID: c.RoomID, Score: score, Reasons: reasons}, c.OnShelf, j.Openings}
		if score > 0 {
			matched = append(matched, r)
		} else {
			rest = append(rest, r)
		}
	}
	order := func(a, b ranked) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		if a.onShelf != b.onShelf {
			if a.onShelf {
				return -1
			}
			return 1
		}
		if c := cmp.Compare(b.openings, a.openings); c != 0 {
			return c
		}
		return cmp.Compare(a.Card.JobID, b.Card.JobID)
	}
	slices.SortFunc(matched, order)
	slices.SortFunc(rest, order)
	out := make([]Recommendation, 0, max)
	for _, r := range matched {
		if len(out) == max {
			break
		}
		out = append(out, r.Recommendation)
	}
	for _, r := range rest {
		if len(out) >= MinRecommendations {
			break
		}
		code := ReasonOpen
		if r.onShelf {
			code = ReasonOnShelf
		}
		r.Reasons = append(r.Reasons, Reason{Code: code})
		out = append(out, r.Recommendation)
	}
	return out
}

func sameCity(a, b string) bool {
	norm := func(s string) string {
		s = strings.ToLower(strings.TrimSpace(s))
		return strings.TrimSuffix(s, "市")
	}
	return norm(a) == norm(b)
}

func isGraduate(p live.Profile) bool {
	s := strings.ToLower(p.Summary)
	for _, w := range graduateWords {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}
