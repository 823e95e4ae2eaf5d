package apkrepo

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

func TestVersionProgram(t *testing.T) {
	for _, arch := range []string{"x86_64", "aarch64"} {
		b, err := VersionProgram(arch, "nginx", "1.31.4-r0")
		if err != nil {
			t.Fatal(err)
		}
		f, err := elf.NewFile(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: not an ELF file: %v", arch, err)
		}
		want := map[string]elf.Machine{"x86_64": elf.EM_X86_64, "aarch64": elf.EM_AARCH64}[arch]
		if f.Machine != want || f.Type != elf.ET_EXEC || len(f.Progs) != 1 {
			t.Errorf("%s: machine %v type %v progs %d", arch, f.Machine, f.Type, len(f.Progs))
		}
	}
	if _, err := VersionProgram("s390x", "x", "1-r0"); err == nil {
		t.Error("an unsupported arch gave no error")
	}
	// Run the one this machine can run, padded as a package ships it.
	arch := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[runtime.GOARCH]
	if arch == "" {
		t.Fatalf("no version program for GOARCH %s", runtime.GOARCH)
	}
	b, _ := VersionProgram(arch, "nginx", "1.31.4-r0")
	b = append(b, make([]byte, 4096)...)
	exe := filepath.Join(t.TempDir(), "nginx")
	if err := os.WriteFile(exe, b, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(exe, "--version").Output()
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if got, want := string(out), "nginx 1.31.4-r0 "+SyntheticMarker+"\n"; got != want {
		t.Errorf("output %q, want %q", got, want)
	}
}
