package verify

import (
	"strings"
	"testing"

	"github.com/hic-build/hic/compiler/attest"
)

// TestOtherCatalog: a compiled spec the catalog no longer has names the
// catalog version the provenance records, by git commit where it has one.
func TestOtherCatalog(t *testing.T) {
	got := otherCatalog(attest.CatalogSource{Digest: "sha256:aa", GitCommit: "0123abc"})
	if !strings.Contains(got, "git commit 0123abc") || !strings.Contains(got, "git worktree add DIR 0123abc") {
		t.Errorf("with a git commit: %s", got)
	}
	if got := otherCatalog(attest.CatalogSource{}); strings.Contains(got, "catalog digest") {
		t.Errorf("with neither: %s", got)
	}
}
