package load

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteDocs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "benchmarks.md")
	if err := os.WriteFile(path, []byte("# Benchmarks\n\nhand-written analysis\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &Report{Scenario: Scenario{Name: "S1 chat fan-out", Viewers: 5000}}
	r.Events.Delivered = 1005000
	if err := WriteDocs(path, "Latest run: first", []*Report{r}, "BenchmarkApplySustained 3395 applies/s\n"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	got := string(b)
	for _, want := range []string{"hand-written analysis", DocsBegin, "Latest run: first", "S1 chat fan-out", "1005000 delivered", "BenchmarkApplySustained 3395", DocsEnd} {
		if !strings.Contains(got, want) {
			t.Fatalf("after the first write the file lacks %q:\n%s", want, got)
		}
	}

	// A second run replaces the section and keeps what is around it.
	if err := os.WriteFile(path, []byte(got+"\n## Notes after\n\nkept\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteDocs(path, "Latest run: second", nil, ""); err != nil {
		t.Fatal(err)
	}
	b, _ = os.ReadFile(path)
	got = string(b)
	if strings.Contains(got, "first") || strings.Contains(got, "S1 chat fan-out") || strings.Count(got, DocsBegin) != 1 {
		t.Fatalf("the old section survived:\n%s", got)
	}
	for _, want := range []string{"hand-written analysis", "Latest run: second", "## Notes after\n\nkept"} {
		if !strings.Contains(got, want) {
			t.Fatalf("after the second write the file lacks %q:\n%s", want, got)
		}
	}

	// A file with one marker only is refused and left alone.
	broken := "x\n" + DocsBegin + "\ny\n"
	if err := os.WriteFile(path, []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteDocs(path, "h", nil, ""); err == nil {
		t.Fatal("a file with one marker was rewritten")
	}
	if b, _ := os.ReadFile(path); string(b) != broken {
		t.Fatalf("a refused write changed the file:\n%s", b)
	}
}
