package spec

import "testing"

func TestParseRef(t *testing.T) {
	distros := []string{"alpine-3.22", "alpine-3.23", "wolfi"}
	variants := []string{"dev", "runtime"}
	tests := []struct {
		in      string
		want    Ref
		wantErr bool
	}{
		{in: "nginx", want: Ref{Image: "nginx"}},
		{in: "nginx:1.29", want: Ref{Image: "nginx", Stream: "1.29"}},
		{in: "nginx:1.29-wolfi", want: Ref{Image: "nginx", Stream: "1.29", Distro: "wolfi"}},
		{in: "nginx:1.29-wolfi-dev", want: Ref{Image: "nginx", Stream: "1.29", Distro: "wolfi", Variant: "dev"}},
		{in: "nginx:1.29-alpine-3.23-runtime", want: Ref{Image: "nginx", Stream: "1.29", Distro: "alpine-3.23", Variant: "runtime"}},
		{in: "go:1.25-alpine-3.22", want: Ref{Image: "go", Stream: "1.25", Distro: "alpine-3.22"}},
		{in: ":1.29", wantErr: true},
		{in: "nginx:", wantErr: true},
		{in: "nginx:-wolfi-dev", wantErr: true},
		{in: "registry/nginx:1", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseRef(tt.in, distros, variants)
			if (err != nil) != tt.wantErr {
				t.Fatalf("ParseRef(%q) error = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
			if err == nil && got != tt.want {
				t.Errorf("ParseRef(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			if err == nil && got.String() != tt.in {
				t.Errorf("String() = %q, want %q", got.String(), tt.in)
			}
		})
	}
}
