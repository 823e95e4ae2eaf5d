package bump

import (
	"testing"

	"github.com/hic-build/hic/compiler/universe"
)

func TestNewestInStream(t *testing.T) {
	nginx := &universe.Package{Name: "nginx-mainline", Versions: []string{"1.33.0-r0", "1.31.4-r1", "1.31.10-r0", "1.30.2-r0"}}
	nginx.Versions = universe.SortVersions(nginx.Versions)
	pg := &universe.Package{Name: "postgresql-18", Versions: []string{"18.6-r1", "18.4-r0"}}
	jdk := &universe.Package{Name: "openjdk-8", Versions: []string{"8.504.07-r1", "8.482.08-r0"}}
	for _, tt := range []struct {
		p           *universe.Package
		stream, pin string
		want        string
	}{
		{nginx, "1.31", "1.31.4-r1", "1.31.10-r0"},
		{nginx, "1.30", "1.30.0-r0", "1.30.2-r0"},
		{nginx, "1.29", "1.29.0-r0", ""},
		{nginx, "mainline", "1.31.4-r1", "1.33.0-r0"},
		{pg, "18", "18.5-r0", "18.6-r1"},
		{pg, "1", "18.5-r0", ""},
		{jdk, "8", "8.512.07-r0", "8.504.07-r1"},
	} {
		if got := NewestInStream(tt.p, tt.stream, tt.pin); got != tt.want {
			t.Errorf("NewestInStream(%s, %q, %q) = %q, want %q", tt.p.Name, tt.stream, tt.pin, got, tt.want)
		}
	}
}
