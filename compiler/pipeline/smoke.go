package pipeline

import (
	"context"
	"encoding/json"
	"errors"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/hic-build/hic/compiler/compile"
	"github.com/hic-build/hic/compiler/smoke"
)

// ArtifactTypeSmoke is the artifact type of the referrer that stores a
// built image's smoke-test results, so a cached spec reports them again.
const ArtifactTypeSmoke = "application/vnd.dev.hic.smoke.v1+json"

// smokeTests runs the spec's smoke tests on every platform of b with the
// run-as user, working directory and environment of the image config.
func (w *worker) smokeTests(ctx context.Context, img compile.Image, b *Built) []smoke.Result {
	if w.opts.Smoke == nil || len(img.Tests) == 0 {
		return nil
	}
	uid := img.Policy.RunAsUID
	gid := uid
	for _, u := range img.Config.Accounts.Users {
		if u.UID == uid && u.GID != nil {
			gid = *u.GID
		}
	}
	if uid == 0 {
		gid = 0
	}
	ims := make([]smoke.Image, 0, len(b.Platforms))
	for _, p := range b.Platforms {
		ims = append(ims, smoke.Image{Platform: p.Platform, Image: p.Image, UID: uid, GID: gid,
			Workdir: img.Config.WorkDir, Env: img.Config.Environment})
	}
	return w.opts.Smoke.Run(ctx, ims, img.Tests)
}

// storedTests reads back the smoke-test results stored with a cached image;
// none stored (a spec without tests) is no error.
func (w *worker) storedTests(h v1.Hash) ([]smoke.Result, error) {
	b, err := w.storedArtifact(h, ArtifactTypeSmoke, "smoke-test")
	if err != nil || b == nil {
		return nil, err
	}
	var rs []smoke.Result
	if err := json.Unmarshal(b, &rs); err != nil {
		return nil, err
	}
	if rs == nil {
		return nil, errors.New("smoke-test results are null")
	}
	return rs, nil
}
