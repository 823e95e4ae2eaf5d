package catalog

import (
	"context"
	"os/exec"
	"strings"
	"time"
)

// GitCommit returns the commit checked out in dir's git work tree, or ""
// when dir is not in one or has uncommitted changes under it: provenance must
// not name a commit the images were not built from.
func GitCommit(ctx context.Context, dir string) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "git", "-C", dir, "rev-parse", "--verify", "HEAD").Output()
	if err != nil {
		return ""
	}
	status, err := exec.CommandContext(ctx, "git", "-C", dir, "status", "--porcelain", "--", ".").Output()
	if err != nil || len(strings.TrimSpace(string(status))) > 0 {
		return ""
	}
	return strings.TrimSpace(string(out))
}
