package check

import (
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hic-build/hic/compiler/inspect"
	"github.com/hic-build/hic/compiler/load"
	"github.com/hic-build/hic/compiler/resolve"
	"github.com/hic-build/hic/compiler/smoke"
	"github.com/hic-build/hic/compiler/vex"
	"github.com/hic-build/hic/schema"
)

// TestRulesMatchSchema keeps the rule table of schema/rules.cue and the Go
// code in step: each rule is enforced by exactly the package its stage says.
func TestRulesMatchSchema(t *testing.T) {
	tab, err := schema.LoadTables()
	if err != nil {
		t.Fatal(err)
	}
	byStage := map[string][]string{}
	for _, id := range tab.RuleIDs() {
		st := tab.Rules[id].Stage
		byStage[st] = append(byStage[st], id)
	}

	// static and catalog rules are this package's; so is the schema-stage
	// "exception" rule (exceptions are judged against the rule table here).
	var implStaticCatalog, implOther []string
	for _, id := range Implemented {
		r, ok := tab.Rules[id]
		switch {
		case !ok:
			t.Errorf("check.Implemented has %q, which schema/rules.cue does not define", id)
		case r.Stage == "static" || r.Stage == "catalog":
			implStaticCatalog = append(implStaticCatalog, id)
		default:
			implOther = append(implOther, id)
		}
	}
	want := append(append([]string(nil), byStage["static"]...), byStage["catalog"]...)
	if diff := cmp.Diff(sorted(want), sorted(implStaticCatalog)); diff != "" {
		t.Errorf("static and catalog rules (-schema/rules.cue +check.Implemented):\n%s", diff)
	}
	if diff := cmp.Diff([]string{RuleException}, implOther); diff != "" {
		t.Errorf("check.Implemented outside the static and catalog stages (-want +got):\n%s", diff)
	}

	// schema-stage rules: the loader's four and check's exception rule.
	if diff := cmp.Diff(sorted([]string{load.RuleSyntax, load.RuleSchema, load.RuleSandbox, load.RuleLayout, RuleException}), sorted(byStage["schema"])); diff != "" {
		t.Errorf("schema-stage rules (-loader and check +schema/rules.cue):\n%s", diff)
	}
	if RuleSchema != load.RuleSchema {
		t.Errorf("check.RuleSchema = %q, load.RuleSchema = %q", RuleSchema, load.RuleSchema)
	}

	// build-stage rules are compiler/inspect's, and resolve's no-rollback.
	if diff := cmp.Diff(sorted(append(inspect.Rules(), resolve.RuleNoRollback)), sorted(byStage["build"])); diff != "" {
		t.Errorf("build-stage rules (-inspect.Rules and resolve's no-rollback +schema/rules.cue):\n%s", diff)
	}

	// advisory rules are compiler/vex's; smoke-test rules compiler/smoke's.
	if diff := cmp.Diff(sorted(vex.Rules()), sorted(byStage["advisories"])); diff != "" {
		t.Errorf("advisories-stage rules (-vex.Rules +schema/rules.cue):\n%s", diff)
	}
	if diff := cmp.Diff(sorted([]string{smoke.Rule}), sorted(byStage["smoke"])); diff != "" {
		t.Errorf("smoke-stage rules (-smoke.Rule +schema/rules.cue):\n%s", diff)
	}

	// No stage the code does not know.
	for st := range byStage {
		switch st {
		case "schema", "static", "catalog", "advisories", "build", "smoke":
		default:
			t.Errorf("rules.cue has stage %q (rules %v) that no package enforces", st, byStage[st])
		}
	}
}

func sorted(ss []string) []string {
	out := append([]string{}, ss...)
	sort.Strings(out)
	return out
}
