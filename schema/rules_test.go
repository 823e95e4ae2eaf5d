package schema

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite RULES.md from the rule table")

// stages orders RULES.md: the order a spec meets the rules in.
var stages = []struct{ id, title, about string }{
	{"schema", "Schema", "checked when a catalog file is loaded (`hic vet`)."},
	{"static", "Static", "checked on each spec before anything is built (`hic vet`)."},
	{"catalog", "Catalog", "checked across every spec of the catalog (`hic vet`)."},
	{"advisories", "Advisory", "checked on the catalog's vulnerability advisories, advisories/*.cue (`hic vet`)."},
	{"build", "Build", "checked on the built root filesystem of each platform (`hic build`)."},
	{"smoke", "Smoke-test", "the spec's smoke tests, run in the built root filesystem under bubblewrap (`hic build`)."},
}

// rulesDoc renders the rule table as Markdown.
func rulesDoc(t *Tables) []byte {
	var b bytes.Buffer
	b.WriteString("# Hardening rules\n\n")
	b.WriteString("<!-- Generated from schema/rules.cue by `go test ./schema -run TestRulesDoc -update`. Do not edit. -->\n\n")
	b.WriteString("Every finding of `hic vet` and `hic build` names one of these rules. An exception\n")
	b.WriteString("`{rule: \"<id>\", reason: \"<why>\"}` on an image or a stream waives a waivable rule for\n")
	b.WriteString("the specs it covers; the finding is still reported, as waived, with the reason.\n")
	for _, st := range stages {
		fmt.Fprintf(&b, "\n## %s rules\n\n%s rules are %s\n\n", st.title, st.title, st.about)
		b.WriteString("| Rule | Stage | Waivable | Title | Rationale | Fix |\n")
		b.WriteString("|------|-------|----------|-------|-----------|-----|\n")
		for _, id := range t.RuleIDs() {
			r := t.Rules[id]
			if r.Stage != st.id {
				continue
			}
			w := "yes"
			if !r.Waivable {
				w = "no"
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s |\n", id, r.Stage, w, cell(r.Title), cell(r.Rationale), cell(r.Hint))
		}
	}
	return b.Bytes()
}

func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "<", "&lt;", ">", "&gt;").Replace(s)
}

// TestRulesDoc fails when RULES.md is not what the rule table generates.
func TestRulesDoc(t *testing.T) {
	tab, err := LoadTables()
	if err != nil {
		t.Fatal(err)
	}
	for id, r := range tab.Rules {
		known := false
		for _, st := range stages {
			known = known || st.id == r.Stage
		}
		if !known {
			t.Errorf("rule %s has stage %q, which RULES.md has no section for", id, r.Stage)
		}
	}
	got := rulesDoc(tab)
	if *update {
		if err := os.WriteFile("RULES.md", got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile("RULES.md")
	if err != nil {
		t.Fatalf("%v (run go test ./schema -run TestRulesDoc -update)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("RULES.md is out of date with rules.cue; run go test ./schema -run TestRulesDoc -update\n(-RULES.md +generated):\n%s", diff)
	}
}

// TestRulesDocListsEveryRule guards the generator: each rule id appears once.
func TestRulesDocListsEveryRule(t *testing.T) {
	tab, err := LoadTables()
	if err != nil {
		t.Fatal(err)
	}
	doc := string(rulesDoc(tab))
	for _, id := range tab.RuleIDs() {
		if n := strings.Count(doc, "| `"+id+"` |"); n != 1 {
			t.Errorf("rule %s appears %d times in RULES.md, want 1", id, n)
		}
	}
}
