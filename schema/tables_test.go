package schema

import (
	"strings"
	"testing"
)

func TestLoadTables(t *testing.T) {
	tab, err := LoadTables()
	if err != nil {
		t.Fatal(err)
	}
	if len(tab.Rules) < 20 {
		t.Errorf("got %d rules, want at least 20", len(tab.Rules))
	}
	for id, r := range tab.Rules {
		if r.Rationale == "" || r.Hint == "" || r.Title == "" {
			t.Errorf("rule %s lacks title, rationale or hint", id)
		}
	}
	if got, want := tab.Distros, []string{"alpine-3.22", "alpine-3.23", "alpine-3.24", "wolfi"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("distros = %v, want %v", got, want)
	}
	if len(tab.Variants) != 2 {
		t.Errorf("variants = %v", tab.Variants)
	}
}
