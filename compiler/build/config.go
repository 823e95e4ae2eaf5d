package build

import (
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/hic-build/hic/compiler/compile"
)

// withSpecConfig adds the config fields of the compiled spec that apko has
// no field for: the exposed ports.
func withSpecConfig(im v1.Image, img compile.Image) (v1.Image, error) {
	if len(img.Ports) == 0 {
		return im, nil
	}
	cf, err := im.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg := cf.Config
	cfg.ExposedPorts = map[string]struct{}{}
	for _, p := range img.Ports {
		cfg.ExposedPorts[p] = struct{}{}
	}
	out, err := mutate.Config(im, cfg)
	if err != nil {
		return nil, fmt.Errorf("exposed ports: %w", err)
	}
	return out, nil
}
